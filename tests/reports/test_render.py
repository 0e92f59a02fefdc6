"""The rendered report: the golden Markdown, well-formed GFM, and what each section must say.

Regenerate the goldens after an intended change with ``UPDATE_GOLDENS=1 python -m pytest
tests/reports`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conformance import ConformanceRecord, record_markdown, render_markdown
from reports.inputs import load_inputs
from reports.markdown import cell, code, code_block, details, readable_json, table
from reports.render import RenderedReport
from reports.sections.conformance import conformance_section
from tests.reports import gfm
from tests.reports.conftest import Render
from tests.reports.make_fixtures import FIXTURES

GOLDENS = Path(__file__).with_name("goldens")
UPDATE = os.environ.get("UPDATE_GOLDENS") == "1"


def check_golden(name: str, text: str) -> None:
    golden = GOLDENS / name
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        pytest.skip(f"rewrote {golden.name}")
    assert golden.is_file(), f"no golden {name}; run with UPDATE_GOLDENS=1 to create it"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{name} differs from its golden; if the change is intended, rerun with UPDATE_GOLDENS=1"
    )


def test_full_report_matches_golden(full_report: RenderedReport) -> None:
    check_golden("report.md", full_report.markdown.read_text(encoding="utf-8"))


def test_full_report_is_well_formed_gfm(full_report: RenderedReport) -> None:
    text = full_report.markdown.read_text(encoding="utf-8")
    assert gfm.all_problems(text, full_report.markdown.parent) == []
    parsed = gfm.parse(text)
    assert len(gfm.images(parsed)) == len(full_report.figures) == 5


def test_failures_come_first_and_each_has_its_details(full_report: RenderedReport) -> None:
    text = full_report.markdown.read_text(encoding="utf-8")
    conformance = text[text.index("## Conformance") : text.index("## Benchmarks")]
    first_table = conformance[conformance.index("| ID |") :].split("\n\n")[0]
    verdicts = re.findall(r"\| (?:❌|⚠️|🔀|ℹ️|✅|➖|⏭️) ([A-Z-\u2060]+) \|", first_table)
    verdicts = [v.replace("\u2060", "") for v in verdicts]
    assert verdicts[:2] == ["FAIL", "FAIL"]
    assert verdicts.index("NON-STRICT") < verdicts.index("FLAKY") < verdicts.index("INFO")
    for clause in ("ERR-5", "VP-8", "AUD-11", "CON-1"):
        block = re.search(rf"<details>\n<summary>[^\n]*{clause} ·.*?</details>", conformance, re.S)
        assert block is not None, f"{clause} has no collapsible section"
    err5 = re.search(r"<summary>❌ ERR-5 ·.*?</details>", conformance, re.S)
    assert err5 is not None
    assert "```sh\ncurl -sS -X POST" in err5[0]
    assert "No request with an arbitrary JSON body" in err5[0]


def test_invalid_runs_are_flagged_loudly(full_report: RenderedReport) -> None:
    text = full_report.markdown.read_text(encoding="utf-8")
    warning = text[text.index("## Benchmarks") :].split("### Load and throughput")[0]
    assert "> [!WARNING]" in warning
    assert "1 of 5 runs are INVALID" in warning
    assert "open-loop generate 8/s" in warning
    assert "ran 8.0 s; at least 20 s needed" in warning
    assert "| open-loop generate 8/s | ❌ **INVALID** |" in text
    assert "<details open>\n<summary>❌ INVALID open-loop generate 8/s</summary>" in text


def test_benchmark_tables_carry_every_figure(full_report: RenderedReport) -> None:
    text = full_report.markdown.read_text(encoding="utf-8")
    for header in (
        "p50",
        "p95",
        "p99",
        "RTF p50",
        "Audio s/s",
        "Goodput/s (≤ 2,000 ms)",
        "Completed/s",
        "Error class",
    ):
        assert f"| {header} |" in text or f" {header} |" in text, header
    assert "| `http_503` | 11 |" in text


def test_comparison_states_what_it_cannot_show(full_report: RenderedReport) -> None:
    text = full_report.markdown.read_text(encoding="utf-8")
    section = text[text.index("## Baseline comparison") :].split("## The harness")[0]
    assert "> [!CAUTION]" in section
    assert "❌ **Same machine**: the servers ran on different machines" in section
    assert "✅ **Same session**" in section
    assert "✅ **Same load**" in section
    assert "| p95 latency (ms) | 752.8 | 146.8 | 5.13× | reference |" in section


def test_provenance_names_versions_machines_seeds_and_health(full_report: RenderedReport) -> None:
    text = full_report.markdown.read_text(encoding="utf-8")
    section = text[text.index("## Provenance") :]
    for expected in (
        "NVIDIA L4, 22 GiB, driver 550.127.05",
        "Intel(R) Xeon(R) Gold 6338",
        "Qwen3-TTS-12Hz-1.7B-Base",
        "cuda:0",
        "Seeds: requests=1, schedule=4",
        "pytest 8.3.4",
        "2026-03-02 14:00:00 UTC",
        "| `torch` | 2.6.0+cu124 |",
    ):
        assert expected in section, expected
    assert "python -m benchmarks.openloop" in section
    assert "/home/ana" not in section.split("Command:")[1].split("```")[1].split()[0]


def test_a_report_of_one_record_has_no_benchmark_or_comparison(render: Render) -> None:
    rendered, _ = render(("conformance-reference.json",), ())
    text = rendered.markdown.read_text(encoding="utf-8")
    assert "No benchmark run was given." in text
    assert "## Baseline comparison" not in text
    assert "## Load balancing" not in text
    assert rendered.figures == []
    assert gfm.all_problems(text, rendered.markdown.parent) == []


def test_image_links_can_point_elsewhere(render: Render, tmp_path: Path) -> None:
    from reports.inputs import load_inputs
    from reports.render import RenderOptions, render_report
    from tests.reports.conftest import fixture_paths

    inputs = load_inputs(fixture_paths(("run-provider-1.json", "run-provider-2.json")))
    rendered = render_report(
        inputs, tmp_path / "r", RenderOptions(image_base_url="https://example.org/r/")
    )
    text = rendered.markdown.read_text(encoding="utf-8")
    assert "![Latency CDF](https://example.org/r/latency-cdf.png)" in text


# --- The Markdown builders ------------------------------------------------------------------


def test_cells_escape_pipes_html_and_newlines() -> None:
    assert cell("a | b\n<script>") == "a \\| b &lt;script&gt;"
    assert cell("x" * 10, limit=5) == "xxxx…"


def test_code_survives_backticks() -> None:
    assert code("a`b") == "``a`b``"
    assert code("`x`") == "`` `x` ``"
    assert code_block("```\nx")[0] == "````"


def test_tables_refuse_ragged_rows() -> None:
    with pytest.raises(ValueError, match="2 cells"):
        table(["a", "b", "c"], [["1", "2"]])


def test_details_leave_the_blank_lines_github_needs() -> None:
    lines = details("A <b>", ["body"])
    assert lines[:3] == ["<details>", "<summary>A &lt;b&gt;</summary>", ""]
    assert lines[-2:] == ["", "</details>"]


def test_the_checker_catches_broken_markdown(tmp_path: Path) -> None:
    broken = "\n".join(
        [
            "| a | b |",
            "| --- | --- |",
            "| 1 | 2 | 3 |",
            "",
            "<details>",
            "<summary>x</summary>",
            "",
            "text",
            "",
            "![plot](missing.png)",
            "",
        ]
    )
    problems = gfm.all_problems(broken, tmp_path)
    assert any("rows with [2, 3] cells" in p for p in problems)
    assert any("never closed" in p for p in problems)
    assert any("missing.png" in p for p in problems)


def test_readable_json_keeps_plain_lists_on_one_line() -> None:
    value = {"languages": ["en", "zh"], "nested": [{"k": 1}], "text": 'a "[quoted]" b', "n": []}
    text = readable_json(value)
    assert '"languages": ["en", "zh"]' in text
    assert '"nested": [\n' in text
    assert json.loads(text) == value


def test_conformance_md_and_the_report_render_a_record_with_one_renderer() -> None:
    path = FIXTURES / "conformance-provider.json"
    record = ConformanceRecord.model_validate_json(path.read_text())
    page = render_markdown(record)
    assert page.startswith("# Conformance\n")
    assert "\n".join(record_markdown(record, level=2)) in page
    (item,) = load_inputs([path]).conformance
    section = "\n".join(conformance_section([item]))
    body = record_markdown(item.document, level=3, source=item.source)
    assert "\n".join(body) in section
    table_rows = [line for line in body if line.startswith("| **")]
    assert table_rows
    assert all(row in section for row in table_rows)
