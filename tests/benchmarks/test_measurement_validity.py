"""The harness measures what the server did: percentiles, stalls, garbage and overload.

These tests run real servers on loopback for a few seconds each. The one timing comparison
(``test_percentiles_match_the_servers_own_timings``) uses a tolerance stated below, wide enough
for a shared machine; everything else compares counts.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from benchmarks.openloop import LoadConfig, run_load
from benchmarks.scenarios import ScenarioSettings
from benchmarks.stats import distribution, summarize
from measurements.coordinated_omission import StallExperiment, compare
from testkit.testing_provider import server_log

pytestmark = pytest.mark.slow

TOLERANCE_FRACTION = 0.05
TOLERANCE_MS = {"p50": 5.0, "p95": 5.0, "p99": 10.0}
"""The harness's percentiles equal the server's own (measured inside the app, from the first
byte it handles to the last it sends) plus the loopback overhead (the median per-request
difference) within 5 ms + 5 % for p50 and p95, and 10 ms + 5 % for p99: the p99 of 200 samples
rests on two requests, which on a shared 2-core machine meet scheduler delays of ~10 ms."""


def _run(url: str, settings: ScenarioSettings, check: float = 0.0, **config: object):  # type: ignore[no-untyped-def]
    load = LoadConfig(host=url, **config)  # type: ignore[arg-type]
    return asyncio.run(run_load(load, settings, check_fraction=check))


ATTEMPTS = 3
"""Scheduler noise on a busy machine only ever widens the gap, and only now and then; a harness
that mis-measures does so every time. So one attempt within tolerance out of three shows the
harness measures right, while a systematic error still fails all three."""


def _percentile_gaps(url: str, settings: ScenarioSettings) -> list[str]:
    """Run once; return the percentiles outside tolerance (empty when all match)."""
    httpx.post(f"{url}/_test/reset", timeout=5, trust_env=False).raise_for_status()
    outcome = _run(url, settings, rate=25.0, duration_s=8.0, schedule="constant")
    truth = {e["request_id"]: e for e in server_log(url) if e["path"] == "/v1/generate"}
    assert {r.id for r in outcome.records} == set(truth)
    for record in outcome.records:
        # The injected service time lies inside both intervals.
        assert record.latency_ms is not None
        assert record.latency_ms >= truth[record.id]["service_ms"]
        assert truth[record.id]["elapsed_ms"] >= truth[record.id]["service_ms"]
    client = distribution(r.latency_ms or 0.0 for r in outcome.records)
    server = distribution(e["elapsed_ms"] for e in truth.values())
    overhead = distribution(
        (r.latency_ms or 0.0) - truth[r.id]["elapsed_ms"] for r in outcome.records
    )
    assert client is not None
    assert server is not None
    assert overhead is not None
    gaps = []
    for name, slack in TOLERANCE_MS.items():
        ours, theirs = getattr(client, name), getattr(server, name) + overhead.p50
        allowed = slack + TOLERANCE_FRACTION * theirs
        if abs(ours - theirs) > allowed:
            gaps.append(f"{name}: harness {ours:.1f} vs truth {theirs:.1f} (+-{allowed:.1f})")
    return gaps


@pytest.mark.parametrize(
    "provider", [["--service", "lognormal:50:0.5", "--seed", "3"]], indirect=True
)
def test_percentiles_match_the_servers_own_timings(
    provider: str, settings: ScenarioSettings
) -> None:
    failures: list[list[str]] = []
    for _ in range(ATTEMPTS):
        gaps = _percentile_gaps(provider, settings)
        if not gaps:
            return
        failures.append(gaps)
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores:
        # The gap is then mostly time both processes spent waiting for a CPU, which the
        # provider's own clock does not see (see the freeze test): no verdict on the harness.
        pytest.skip(f"machine overloaded (load {load:.1f} on {cores} cores): {failures}")
    pytest.fail(f"outside tolerance in all {ATTEMPTS} attempts: {failures}")


def test_a_stall_is_exposed_open_loop_and_hidden_closed_loop(tmp_path: Path) -> None:
    experiment = StallExperiment(rate=50.0, duration_s=8.0, stall_at_s=3.0, stall_s=2.0)
    report = compare(experiment, tmp_path)
    open_loop, closed_loop = report.observations
    assert open_loop.generator == "open-loop"
    # Open loop: every request due during the stall was sent, held and counted.
    expected_held = experiment.rate * experiment.stall_s
    assert abs(open_loop.server_held - expected_held) <= 0.1 * expected_held
    assert open_loop.affected >= 0.7 * open_loop.server_held
    assert open_loop.summary.requests == experiment.rate * experiment.duration_s
    latency = open_loop.summary.latency
    assert latency is not None
    assert latency.max >= 1900
    assert latency.p99 >= 1800
    # Closed loop: one request waited, the others were never sent; the percentiles barely move.
    assert closed_loop.server_held <= experiment.closed_loops + 1
    assert closed_loop.affected <= experiment.closed_loops + 1
    closed = closed_loop.summary.latency
    assert closed is not None
    assert closed.max >= 1900
    assert closed.p99 < 200
    assert closed_loop.summary.requests < open_loop.summary.requests - 0.8 * expected_held


@pytest.mark.parametrize(
    "provider", [["--service", "fixed:5", "--bad-audio-every", "4"]], indirect=True
)
def test_garbage_under_load_is_a_failure(provider: str, settings: ScenarioSettings) -> None:
    outcome = _run(provider, settings, check=1.0, rate=40.0, duration_s=2.0, schedule="constant")
    bad = sum(1 for e in server_log(provider) if e.get("bad_audio"))
    summary = summarize(outcome.records, 2.0, check_fraction=1.0)
    assert bad >= 15
    assert summary.errors_by_class == {"invalid_audio.AUD-4": bad}
    assert summary.correctness is not None
    assert summary.correctness.checked == summary.requests
    assert summary.correctness.failed == bad


@pytest.mark.parametrize("provider", [["--service", "fixed:400"]], indirect=True)
def test_overflow_at_the_concurrency_cap_is_counted(
    provider: str, settings: ScenarioSettings
) -> None:
    outcome = _run(
        provider, settings, rate=40.0, duration_s=1.5, schedule="constant", concurrency=4
    )
    summary = summarize(outcome.records, 1.5)
    assert summary.requests == 60
    assert summary.dropped >= 40
    assert summary.errors_by_class["client_overflow"] == summary.dropped
    assert summary.sent + summary.dropped == summary.requests
    served = [e for e in server_log(provider) if e["path"] == "/v1/generate"]
    assert len(served) == summary.sent


@pytest.mark.parametrize(
    "provider", [["--service", "fixed:5", "--api-key", "secret"]], indirect=True
)
def test_a_wrong_key_fails_setup_with_a_clear_error(
    provider: str, settings: ScenarioSettings
) -> None:
    from benchmarks.openloop import SetupError

    with pytest.raises(SetupError, match="http_401"):
        _run(provider, settings, rate=5.0, duration_s=1.0)


@pytest.mark.parametrize(
    "provider",
    [["--service", "fixed:5", "--stall-at", "1", "--stall-for", "1", "--stall-mode", "freeze"]],
    indirect=True,
)
def test_a_frozen_server_hides_from_its_own_timings_but_not_from_the_open_loop(
    provider: str, settings: ScenarioSettings
) -> None:
    outcome = _run(provider, settings, rate=25.0, duration_s=3.0, schedule="constant")
    client_slow = sum(1 for r in outcome.records if (r.latency_ms or 0) > 100)
    server = [e for e in server_log(provider) if e["path"] == "/v1/generate"]
    server_slow = sum(1 for e in server if e["elapsed_ms"] > 100)
    # Requests that arrive while the event loop is frozen wait in the kernel's accept queue,
    # where the server's own clock never sees them.
    assert server_slow == 1
    assert client_slow >= 0.7 * 25  # about 25 requests were due during the 1 s freeze
    assert max(r.latency_ms or 0 for r in outcome.records) >= 900
