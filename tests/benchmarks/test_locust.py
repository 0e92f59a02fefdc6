"""The locustfile headless: exact metrics, the quit gate, and distributed aggregation."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.locustrun import run_locust
from benchmarks.testing_provider import server_log

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("provider", [["--service", "fixed:15"]], indirect=True)
def test_quit_gate_fails_an_slo_on_exact_percentiles(provider: str, tmp_path: Path) -> None:
    run = run_locust(
        provider, tmp_path, users=2, run_time_s=3,
        extra=["--slo-p95-ms", "5", "--check-fraction", "1", "--slo-latency-ms", "1000"],
    )  # fmt: skip
    assert run.returncode == 1
    result = run.result
    assert result.slo is not None
    assert not result.slo.passed
    assert "p95 latency" in result.slo.failures[0]
    summary = result.summary
    assert summary.ok == summary.requests > 0
    assert summary.latency is not None
    assert summary.latency.p95 > 5
    # Exact, not Locust's buckets: the document holds every latency it summarised.
    assert len(result.records) == summary.requests
    assert summary.correctness is not None
    assert summary.correctness.checked == summary.requests
    assert summary.goodput is not None
    assert summary.goodput.within_slo == summary.ok
    assert summary.audio_seconds > 0
    csv_text = (tmp_path / "locust_voicebox.csv").read_text()
    assert csv_text.startswith("name,requests,ok,errors,p50_ms")


@pytest.mark.parametrize("provider", [["--service", "fixed:15"]], indirect=True)
def test_quit_gate_passes_a_met_slo(provider: str, tmp_path: Path) -> None:
    run = run_locust(
        provider, tmp_path, users=2, run_time_s=2, scenario="mixed",
        extra=["--slo-p99-ms", "5000", "--max-error-ratio", "0"],
    )  # fmt: skip
    assert run.returncode == 0, run.log_path.read_text()[-2000:]
    assert run.result.slo is not None
    assert run.result.slo.passed
    assert set(run.result.summary.by_operation) >= {"generate", "transcribe"}


@pytest.mark.parametrize("provider", [["--service", "fixed:10"]], indirect=True)
def test_distributed_workers_ship_every_record_to_the_master(provider: str, tmp_path: Path) -> None:
    run = run_locust(
        provider, tmp_path, users=4, run_time_s=4, workers=2, scenario="clone-and-generate",
        stop_timeout_s=5, extra=["--check-fraction", "0.5"],
    )  # fmt: skip
    assert run.returncode == 0, run.log_path.read_text()[-2000:]
    result = run.result
    records = result.records
    by_worker = {r.worker for r in records}
    assert by_worker == {"worker-0", "worker-1"}
    # Every request the server saw from the workers is in the master's document, once.
    served = [e for e in server_log(provider) if e.get("request_id")]
    assert sorted(r.id for r in records) == sorted(e["request_id"] for e in served)
    summary = result.summary
    assert summary.requests == len(records) == len(served)
    assert summary.by_operation["create_voice_prompt"].requests == 4  # one per user
    server_audio = sum(e.get("audio_s", 0.0) for e in served)
    assert summary.audio_seconds == pytest.approx(server_audio)
    assert summary.request_bytes == sum(r.request_bytes for r in records)
    assert not any("did not flush" in n for n in result.provenance.notes)
    assert result.config["workers"] == 2
