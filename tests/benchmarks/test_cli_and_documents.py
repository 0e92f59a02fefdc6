"""The command lines as a person runs them, and the documents they write."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.results import RunResult, SelfCheckReport, load_document
from orchestration.processes import REPO_ROOT, python_env
from testkit.testing_provider import server_log

pytestmark = pytest.mark.slow


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=python_env(),
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize("provider", [["--service", "fixed:30"]], indirect=True)
def test_openloop_cli_writes_a_document_and_gates_on_the_slo(provider: str, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    common = ["benchmarks.openloop", "--host", provider, "--rate", "20", "--duration", "2",
              "--schedule", "poisson", "--seed", "7", "--out", str(out)]  # fmt: skip
    met = _cli(*common, "--slo-p99-ms", "5000", "--scenario", "clone-and-generate", "--voices", "2")
    assert met.returncode == 0, met.stderr
    assert "INVALID" in met.stdout  # two seconds and ~40 requests are too few to publish
    document = load_document(out)
    assert isinstance(document, RunResult)
    assert document.mode == "open-loop"
    assert document.provenance.seeds["schedule"] == 7
    assert document.provenance.provider_health is not None
    assert document.provenance.provider_health["status"] == "healthy"
    assert len(document.setup_records) == 2
    assert {c.name for c in document.validity.checks} >= {
        "min_duration", "min_requests", "client_cpu", "achieved_rate", "no_dropped_requests"
    }  # fmt: skip
    missed = _cli(*common, "--slo-p95-ms", "1")
    assert missed.returncode == 1
    assert "p95 latency" in missed.stdout
    strict = _cli(*common, "--strict")
    assert strict.returncode == 3


def test_openloop_cli_refuses_bad_options() -> None:
    completed = _cli("benchmarks.openloop", "--host", "http://127.0.0.1:9", "--check-fraction", "2")
    assert completed.returncode == 2
    assert "not a fraction" in completed.stderr


def test_unreachable_provider_is_a_clear_error() -> None:
    completed = _cli("benchmarks.openloop", "--host", "http://127.0.0.1:9", "--duration", "1")
    assert completed.returncode == 2
    assert "connect_error" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_results_schema_is_printed_and_names_every_kind() -> None:
    completed = _cli("benchmarks.results")
    assert completed.returncode == 0
    schema = json.loads(completed.stdout)
    kinds = {branch["$ref"].rsplit("/", 1)[-1] for branch in schema["oneOf"]}
    assert kinds == {"RunResult", "LoadBalanceReport", "SelfCheckReport", "StallComparison"}


@pytest.mark.nginx
def test_selfcheck_compares_with_wrk_and_reports_schedule_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "selfcheck.json"
    completed = _cli(
        "measurements.selfcheck", "--seconds", "1", "--rates", "50", "--no-locust",
        "--out", str(out),
        timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    report = load_document(out)
    assert isinstance(report, SelfCheckReport)
    assert report.clients["openloop-closed"]["rps"] > 0
    (accuracy,) = report.schedule_accuracy
    assert accuracy["target_rps"] == 50
    assert accuracy["achieved_rps"] > 0


@pytest.mark.parametrize("provider", [["--service", "fixed:20"]], indirect=True)
def test_ctrl_c_keeps_what_was_measured_and_marks_it_invalid(provider: str, tmp_path: Path) -> None:
    # The run is meant to last ten minutes and is interrupted once 20 generations have reached
    # the provider, however long the start took: the interrupt cannot come after a normal end.
    out = tmp_path / "run.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.openloop", "--host", provider, "--rate", "20",
         "--duration", "600", "--out", str(out)],
        cwd=REPO_ROOT, env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_until(lambda: _generations(provider) >= 20, process, "20 generations arrived")
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    document = load_document(out)
    assert isinstance(document, RunResult)
    assert not document.validity.valid
    assert document.validity.reasons[0].startswith("interrupted after")
    assert document.summary.requests >= 10
    assert document.summary.duration_s < 300  # cut short: the schedule ran for ten minutes
    assert document.summary.requests < 20 * document.summary.duration_s + 20
    assert "INVALID: interrupted" in stdout


def _generations(provider: str) -> int:
    return sum(entry["path"] == "/v1/generate" for entry in server_log(provider))


def _wait_until(
    happened: Callable[[], bool], process: subprocess.Popen[str], what: str, timeout_s: float = 300
) -> None:
    """Wait for an event, failing if the process ends first; ``timeout_s`` only bounds a hang."""
    deadline = time.monotonic() + timeout_s
    while not happened():
        assert process.poll() is None, f"the run ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"not {what} after {timeout_s:.0f} s"
        time.sleep(0.1)


def test_committed_schema_matches_the_models() -> None:
    completed = _cli("benchmarks.results")
    committed = (REPO_ROOT / "benchmarks" / "results.schema.json").read_text()
    assert json.loads(completed.stdout) == json.loads(committed), (
        "regenerate: python -m benchmarks.results > benchmarks/results.schema.json"
    )
