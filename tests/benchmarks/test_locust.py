"""The locustfile headless: exact metrics, the quit gate, and distributed aggregation."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.locustrun import run_locust
from testkit.testing_provider import server_log

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("provider", [["--service", "fixed:15"]], indirect=True)
def test_quit_gate_fails_an_slo_on_exact_percentiles(provider: str, tmp_path: Path) -> None:
    run = run_locust(
        provider, tmp_path, users=2, run_time_s=3,
        extra=["--slo-p95-ms", "5", "--check-fraction", "1", "--slo-latency-ms", "1000",
               "--html", str(tmp_path / "report.html")],
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
    assert (tmp_path / "report.html").stat().st_size > 0
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
    assert result.config.workers == 2


@pytest.mark.parametrize("provider", [["--service", "fixed:20", "--slots", "1"]], indirect=True)
def test_saturation_shape_stops_when_more_users_only_add_latency(
    provider: str, tmp_path: Path
) -> None:
    run = run_locust(
        provider, tmp_path, users=1, run_time_s=60,
        extra=["--shape", "saturation", "--step-users", "3", "--step-seconds", "2.5",
               "--max-users", "25"],
    )  # fmt: skip
    assert run.returncode == 0, run.log_path.read_text()[-2000:]
    steps = run.result.steps
    assert steps[0].users == 1
    assert steps[-1].saturated
    assert "p95 rose" in (steps[-1].reason or "")
    assert len(steps) < 9, "stopped by saturation, before the plan ran out of steps"
    assert not any(step.saturated for step in steps[:-1])


@pytest.mark.parametrize("provider", [["--service", "fixed:20", "--slots", "2"]], indirect=True)
def test_sweep_shape_runs_baseline_saturation_then_rates_in_between(
    provider: str, tmp_path: Path
) -> None:
    run = run_locust(
        provider, tmp_path, users=1, run_time_s=60,
        extra=["--shape", "sweep", "--step-seconds", "3", "--max-users", "8",
               "--sweep-fractions", "0.5"],
    )  # fmt: skip
    assert run.returncode == 0, run.log_path.read_text()[-2000:]
    baseline, saturation, middle = run.result.steps
    assert (baseline.users, saturation.users) == (1, 8)
    assert middle.target_rps is not None
    expected = (baseline.ok_rps + saturation.ok_rps) / 2
    assert middle.target_rps == pytest.approx(expected)
    assert middle.ok_rps == pytest.approx(middle.target_rps, rel=0.25)


@pytest.mark.parametrize(
    "provider", [["--service", "fixed:10", "--stream-first-ms", "20"]], indirect=True
)
def test_streams_record_their_first_packet(provider: str, tmp_path: Path) -> None:
    extra = ["--stream", "--min-duration", "1", "--min-requests", "5"]
    run = run_locust(provider, tmp_path, users=2, run_time_s=2, extra=extra)
    assert run.returncode == 0, run.log_path.read_text()[-2000:]
    records = [r for r in run.result.records if r.operation == "generate"]
    assert records
    assert all(r.ok for r in records), {r.error_class for r in records}
    assert all(r.ttfp_ms is not None and r.ttfp_ms >= 20 for r in records)
    assert all(r.ttfp_ms <= (r.latency_ms or 0) for r in records if r.ttfp_ms is not None)
    assert run.result.summary.ttfp is not None
