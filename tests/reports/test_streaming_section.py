"""The streaming section appears when a run streamed: TTFP table, stalls, side by side, CDF."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.results import RunResult
from benchmarks.stats import summarize
from reports.inputs import load_inputs
from reports.redact import Redactor
from reports.render import render_report
from tests.reports.conftest import options
from tests.reports.make_fixtures import FIXTURES

WHOLE = FIXTURES / "run-provider-2.json"


def _streamed_copy(tmp_path: Path) -> Path:
    run = RunResult.model_validate_json(WHOLE.read_text())
    records = []
    for index, record in enumerate(run.records):
        latency = record.latency_ms or 0.0
        records.append(
            record.model_copy(
                update={
                    "ttfp_ms": latency * 0.1,
                    "gap_max_ms": 20.0,
                    "underruns": 1 if index == 0 else 0,
                    "stall_s": 0.25 if index == 0 else 0.0,
                }
            )
        )
    summary = summarize(records, run.summary.duration_s, slo_ms=2000.0, check_fraction=0.1)
    streamed = run.model_copy(update={"records": records, "summary": summary})
    path = tmp_path / "run-streamed.json"
    path.write_text(json.dumps(streamed.model_dump(mode="json")), encoding="utf-8")
    return path


def test_a_streamed_run_gets_the_streaming_section(tmp_path: Path) -> None:
    redactor = Redactor()
    inputs = load_inputs([_streamed_copy(tmp_path), WHOLE], [], redactor)
    rendered = render_report(inputs, tmp_path / "out", options(), redactor)
    text = rendered.markdown.read_text()
    section = text.split("## Streaming", 1)[1]
    assert "### Time to first packet" in section
    assert "| stream |" in section
    assert "| whole clip |" in section
    assert "0.10" in section  # TTFP over the complete time, the median
    assert "0.250" in section  # the one stall
    assert (tmp_path / "out" / "ttfp-cdf.png").stat().st_size > 0


def test_no_streamed_run_no_section(tmp_path: Path) -> None:
    redactor = Redactor()
    inputs = load_inputs([WHOLE], [], redactor)
    rendered = render_report(inputs, tmp_path / "out", options(), redactor)
    assert "## Streaming" not in rendered.markdown.read_text()
    assert not (tmp_path / "out" / "ttfp-cdf.png").exists()
