"""Results documents of schema 1.x (an untyped ``config``) still read, as a typed ``RunConfig``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks.results import SCHEMA_VERSION, RunConfig, RunResult, load_document, write_document
from reports.inputs import load_inputs
from reports.runs import run_views

VERSION_1 = Path(__file__).parent / "data" / "run-1.0.json"
"""An open-loop document written by schema 1.0 (the report fixture of that time, trimmed)."""


def _version_1() -> RunResult:
    document = load_document(VERSION_1)
    assert isinstance(document, RunResult)
    return document


def test_a_version_1_run_reads_as_a_typed_config() -> None:
    run = _version_1()
    assert run.schema_version == "1.0"
    assert run.config.nominal_rate_rps == 1.0
    assert run.config.scheduled_rate_rps == 1.0
    assert (run.config.scenario, run.config.schedule, run.config.seed) == ("generate", "poisson", 1)
    assert "rate" not in run.config.model_dump()


def test_the_oldest_open_loop_keys_map_onto_the_rates() -> None:
    """Before the derived rates were written, only the tool's ``rate`` said what was asked."""
    config = RunConfig.model_validate(
        {"scenario": "generate", "check_fraction": 0.1, "mode": "open", "rate": 4.0,
         "scheduled": 30, "duration_s": 10.0}
    )  # fmt: skip
    assert (config.nominal_rate_rps, config.scheduled_rate_rps) == (4.0, 3.0)
    closed = RunConfig.model_validate(
        {"scenario": "generate", "check_fraction": 0.0, "mode": "closed", "rate": 0.0}
    )
    assert (closed.nominal_rate_rps, closed.scheduled_rate_rps) == (0.0, None)
    locust = RunConfig.model_validate(
        {"scenario": "generate", "check_fraction": 0.0, "users": 4, "run_time": 30,
         "stop_timeout": 5}
    )  # fmt: skip
    assert (locust.run_time_s, locust.stop_timeout_s, locust.users) == (30.0, 5.0, 4)


def test_a_version_1_run_is_written_back_as_the_current_version(tmp_path: Path) -> None:
    upgraded = _version_1().model_copy(update={"schema_version": SCHEMA_VERSION})
    again = load_document(write_document(upgraded, tmp_path / "run.json"))
    assert isinstance(again, RunResult)
    assert again.config == upgraded.config
    assert json.loads((tmp_path / "run.json").read_text())["config"]["nominal_rate_rps"] == 1.0


def test_the_report_labels_a_version_1_run_by_its_rate(tmp_path: Path) -> None:
    shutil.copy(VERSION_1, tmp_path)
    (view,) = run_views(load_inputs([tmp_path]).runs)
    assert view.nominal_rps == view.offered_rps == 1.0
    assert view.label == "open-loop generate 1/s"
