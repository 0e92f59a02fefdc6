"""Load shapes as plain, testable plans: step ramp, sweep, and ramp-until-saturated.

The locustfile's one ``LoadTestShape`` delegates to a plan from here (Locust would otherwise
pick the first shape class it finds, so the choice is an option, ``--shape``). A plan is a list
of steps; after each step the measured throughput, latency and errors decide whether to go on.

**Saturation**, as defined here: a step is saturated when its error ratio exceeds
``max_error_ratio``, or when its successful throughput grew by less than ``min_gain`` over the
best earlier step while its p95 latency grew by more than ``latency_growth`` over the previous
step. More load then buys queueing, not work: the provider is at capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.results import RequestRecord, SaturationStep
from benchmarks.stats import percentile

__all__ = [
    "SaturationRule",
    "Step",
    "measure_step",
    "saturation_reason",
    "step_plan",
    "sweep_rates",
]


@dataclass(frozen=True)
class Step:
    """Hold ``users`` (optionally paced to ``target_rps`` in total) for ``seconds``."""

    users: int
    seconds: float
    target_rps: float | None = None
    label: str = ""


@dataclass(frozen=True)
class SaturationRule:
    min_gain: float = 0.05
    latency_growth: float = 0.25
    max_error_ratio: float = 0.01


def step_plan(start: int, step: int, every_s: float, max_users: int) -> list[Step]:
    """``start``, ``start + step``, ... up to ``max_users`` users, ``every_s`` each."""
    if start < 1 or step < 1 or max_users < start or every_s <= 0:
        raise ValueError("need 1 <= start <= max_users, step >= 1 and a positive step time")
    return [
        Step(users, every_s, label=f"{users} users") for users in range(start, max_users + 1, step)
    ]


def sweep_rates(
    baseline_rps: float, saturation_rps: float, fractions: Sequence[float]
) -> list[float]:
    """Rates between the one-at-a-time throughput and the saturated throughput."""
    low, high = sorted((baseline_rps, saturation_rps))
    return [low + f * (high - low) for f in fractions]


def measure_step(
    index: int,
    step: Step,
    *,
    records: Sequence[RequestRecord],
    started_at: float,
    ended_at: float,
    warmup_s: float = 0.0,
) -> SaturationStep:
    """What one step achieved, from the records that started inside its window."""
    window = [r for r in records if started_at + warmup_s <= r.intended_at < ended_at]
    seconds = max(1e-9, ended_at - started_at - warmup_s)
    ok = sorted(r.latency_ms for r in window if r.ok and r.latency_ms is not None)
    errors = sum(not r.ok for r in window)
    return SaturationStep(
        index=index,
        users=step.users,
        target_rps=step.target_rps,
        started_at=started_at,
        ended_at=ended_at,
        requests=len(window),
        ok_rps=len(ok) / seconds,
        error_ratio=errors / len(window) if window else 0.0,
        p50_ms=percentile(ok, 0.5) if ok else None,
        p95_ms=percentile(ok, 0.95) if ok else None,
    )


def saturation_reason(history: Sequence[SaturationStep], rule: SaturationRule) -> str | None:
    """Why the last step of ``history`` is saturated, or ``None`` if it is not."""
    if not history:
        return None
    last = history[-1]
    if last.requests and last.error_ratio > rule.max_error_ratio:
        return f"error ratio {last.error_ratio:.3f} > {rule.max_error_ratio:g}"
    if len(history) < 2:
        return None
    best = max(s.ok_rps for s in history[:-1])
    previous = history[-2]
    flat = last.ok_rps < best * (1.0 + rule.min_gain)
    if not flat or last.p95_ms is None or previous.p95_ms is None:
        return None
    if last.p95_ms > previous.p95_ms * (1.0 + rule.latency_growth):
        return (
            f"throughput {last.ok_rps:.2f}/s gained under {rule.min_gain:.0%} on the best "
            f"{best:.2f}/s while p95 rose {previous.p95_ms:.0f} -> {last.p95_ms:.0f} ms"
        )
    return None
