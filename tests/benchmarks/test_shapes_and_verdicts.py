from __future__ import annotations

import pytest

from benchmarks.openloop import schedule_offsets
from benchmarks.results import RequestRecord, SaturationStep
from benchmarks.shapes import SaturationRule, Step, measure_step, saturation_reason, step_plan
from benchmarks.stats import summarize
from benchmarks.verdicts import SloThresholds, ValidityThresholds, check_validity, evaluate_slo


def _step(index: int, rps: float, p95: float, errors: float = 0.0) -> SaturationStep:
    return SaturationStep(
        index=index,
        started_at=0,
        ended_at=1,
        requests=100,
        ok_rps=rps,
        error_ratio=errors,
        p50_ms=p95 / 2,
        p95_ms=p95,
    )


def test_saturation_needs_flat_throughput_and_growing_latency() -> None:
    rule = SaturationRule()
    growing = [_step(0, 10, 100), _step(1, 20, 110)]
    assert saturation_reason(growing, rule) is None
    flat_fast = [_step(0, 10, 100), _step(1, 10.2, 105)]
    assert saturation_reason(flat_fast, rule) is None
    flat_slow = [_step(0, 10, 100), _step(1, 10.2, 200)]
    reason = saturation_reason(flat_slow, rule)
    assert reason is not None
    assert "p95 rose" in reason
    errors = [_step(0, 10, 100, errors=0.05)]
    assert "error ratio" in (saturation_reason(errors, rule) or "")


def test_step_plan_and_measurement() -> None:
    plan = step_plan(1, 2, 5.0, 6)
    assert [s.users for s in plan] == [1, 3, 5]
    with pytest.raises(ValueError, match="start"):
        step_plan(0, 1, 1.0, 4)
    records = [
        RequestRecord(
            id=str(i), operation="generate", intended_at=100 + i * 0.1, ok=True, latency_ms=float(i)
        )
        for i in range(100)
    ]
    measured = measure_step(0, Step(3, 10), records=records, started_at=100, ended_at=105)
    assert measured.requests == 50
    assert measured.ok_rps == pytest.approx(10.0)
    assert measured.p95_ms == 47.0


def test_schedules_are_seeded_and_bounded() -> None:
    constant = schedule_offsets("constant", 10, 2.0, seed=1)
    assert constant == [i / 10 for i in range(20)]
    poisson = schedule_offsets("poisson", 50, 10.0, seed=4)
    assert poisson == schedule_offsets("poisson", 50, 10.0, seed=4)
    assert poisson != schedule_offsets("poisson", 50, 10.0, seed=5)
    assert all(0 < t < 10.0 for t in poisson)
    assert poisson == sorted(poisson)
    assert 400 < len(poisson) < 600
    assert len(schedule_offsets("poisson", 1000, 100.0, seed=1, max_requests=50)) == 50


def _records(count: int, sent: bool = True) -> list[RequestRecord]:
    return [
        RequestRecord(
            id=str(i),
            operation="generate",
            intended_at=float(i),
            sent_at=float(i) if sent else None,
            ended_at=float(i) + 0.1 if sent else None,
            service_ms=100.0,
            latency_ms=100.0 + i,
            ok=True,
        )
        for i in range(count)
    ]


def test_validity_names_each_reason() -> None:
    summary = summarize(_records(50), 5.0)
    report = check_validity(
        summary, ValidityThresholds(), client_cpu=0.95, scheduled=60, open_loop=True
    )
    assert not report.valid
    text = " ".join(report.reasons)
    for phrase in ("at least 20 s", "at least 100", "95%", "scheduled"):
        assert phrase in text


def test_a_good_open_loop_run_is_valid_and_closed_loop_is_flagged() -> None:
    summary = summarize(_records(200), 20.0)
    limits = ValidityThresholds(min_duration_s=10, min_requests=100)
    good = check_validity(summary, limits, client_cpu=0.2, scheduled=200, open_loop=True)
    assert good.valid, good.reasons
    closed = check_validity(summary, limits, client_cpu=0.2, scheduled=None, open_loop=False)
    assert closed.valid  # advisory only
    assert any(c.name == "open_loop" and not c.passed for c in closed.checks)


def test_a_late_client_fails_the_achieved_rate() -> None:
    summary = summarize(_records(200), 20.0)
    limits = ValidityThresholds(min_duration_s=10, min_requests=100)
    late = check_validity(
        summary, limits, client_cpu=0.2, scheduled=200, open_loop=True, send_span_s=21.0
    )
    assert not late.valid
    assert "scheduled" in late.reasons[0]


def test_slo_gate_uses_exact_percentiles_and_error_ratio() -> None:
    summary = summarize(_records(100), 10.0)  # latencies 100..199 ms
    assert evaluate_slo(summary, SloThresholds(p95_ms=194, p99_ms=198)).passed  # ranks 95, 99
    failed = evaluate_slo(summary, SloThresholds(p95_ms=193.5, max_error_ratio=0.0))
    assert not failed.passed
    assert failed.failures == ["p95 latency 194.0 ms exceeds 193.5 ms"]
    verdict = evaluate_slo(
        summarize(_failed(1) + _records(9), 1.0), SloThresholds(max_error_ratio=0.05)
    )
    assert not verdict.passed
    assert "error ratio 0.1000" in verdict.failures[0]


def _failed(count: int) -> list[RequestRecord]:
    return [
        RequestRecord(
            id=f"f{i}",
            operation="generate",
            intended_at=0.0,
            sent_at=0.0,
            ok=False,
            error_class="http_500",
        )
        for i in range(count)
    ]


def test_slo_can_judge_one_operation() -> None:
    health = [
        RequestRecord(
            id=f"h{i}",
            operation="health",
            intended_at=0.0,
            sent_at=0.0,
            ok=True,
            latency_ms=1500.0 if i == 0 else 5.0,
        )
        for i in range(10)
    ]
    summary = summarize(_records(100) + health, 10.0)
    assert evaluate_slo(summary, SloThresholds(p95_ms=300)).passed
    verdict = evaluate_slo(summary, SloThresholds(p99_ms=1000, operation="health"))
    assert not verdict.passed
    assert verdict.failures == ["health: p99 latency 1500.0 ms exceeds 1000 ms"]
    missing = evaluate_slo(summary, SloThresholds(p95_ms=1, operation="transcribe"))
    assert missing.failures == ["no transcribe request was made"]
