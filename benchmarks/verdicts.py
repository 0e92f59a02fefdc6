"""Judging a run: the validity checklist (can the numbers be trusted?) and the SLO gate
(did the provider meet its objectives?). Both read exact latencies, never rounded buckets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.results import RunSummary, SloVerdict, ValidityCheck, ValidityReport

__all__ = ["SloThresholds", "ValidityThresholds", "check_validity", "evaluate_slo"]


@dataclass(frozen=True)
class SloThresholds:
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_error_ratio: float | None = None
    operation: str | None = None
    """Judge only this operation (e.g. ``health`` in health-under-load); ``None``: all."""

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.p95_ms, self.p99_ms, self.max_error_ratio))


@dataclass(frozen=True)
class ValidityThresholds:
    min_duration_s: float = 20.0
    min_requests: int = 100
    max_client_cpu: float = 0.90
    """Fraction of one core: above it the client, not the server, may set the pace."""
    rate_tolerance: float = 0.02
    max_queue_p99_ms: float = 10.0


def evaluate_slo(summary: RunSummary, slo: SloThresholds) -> SloVerdict:
    """The quit gate: every configured objective, on exact percentiles of all requests."""
    failures: list[str] = []
    latency = summary.latency
    requests, errors, ratio = summary.requests, summary.errors, summary.error_ratio
    scope = ""
    if slo.operation is not None:
        scope = f"{slo.operation}: "
        chosen = summary.by_operation.get(slo.operation)
        if chosen is None:
            return SloVerdict(
                passed=False, failures=[f"no {slo.operation} request was made"], **_limits(slo)
            )
        latency, requests, errors = chosen.latency, chosen.requests, chosen.errors
        ratio = errors / requests if requests else 0.0
    for name, limit in (("p95", slo.p95_ms), ("p99", slo.p99_ms)):
        if limit is None:
            continue
        if latency is None:
            failures.append(f"{scope}{name}: no successful request to measure")
            continue
        value = latency.p95 if name == "p95" else latency.p99
        if value > limit:
            failures.append(f"{scope}{name} latency {value:.1f} ms exceeds {limit:g} ms")
    if slo.max_error_ratio is not None and ratio > slo.max_error_ratio:
        failures.append(
            f"{scope}error ratio {ratio:.4f} exceeds {slo.max_error_ratio:g} "
            f"({errors} of {requests}; all errors: {summary.errors_by_class})"
        )
    if requests == 0:
        failures.append(f"{scope}no request was made")
    return SloVerdict(passed=not failures, failures=failures, **_limits(slo))


def _limits(slo: SloThresholds) -> dict[str, Any]:
    return {
        "p95_ms": slo.p95_ms,
        "p99_ms": slo.p99_ms,
        "max_error_ratio": slo.max_error_ratio,
        "operation": slo.operation,
    }


def check_validity(
    summary: RunSummary,
    limits: ValidityThresholds,
    *,
    client_cpu: float | None,
    scheduled: int | None,
    open_loop: bool,
    send_span_s: float | None = None,
) -> ValidityReport:
    """Whether the run measured the server rather than the client or chance.

    ``scheduled`` is how many requests the seeded schedule asked for in the window; the achieved
    rate is compared with it, so that a Poisson schedule's own randomness is not mistaken for a
    client that cannot keep up. ``send_span_s`` is the window stretched by how late the last
    request went out, so that a client that falls behind shows a lower achieved rate.
    """
    checks = [
        ValidityCheck(
            name="min_duration",
            passed=summary.duration_s >= limits.min_duration_s,
            value=summary.duration_s,
            threshold=limits.min_duration_s,
            detail=f"ran {summary.duration_s:.1f} s; at least {limits.min_duration_s:g} s needed",
        ),
        ValidityCheck(
            name="min_requests",
            passed=summary.requests >= limits.min_requests,
            value=summary.requests,
            threshold=limits.min_requests,
            detail=f"{summary.requests} requests; at least {limits.min_requests} needed",
        ),
    ]
    if client_cpu is not None:
        checks.append(
            ValidityCheck(
                name="client_cpu",
                passed=client_cpu < limits.max_client_cpu,
                value=client_cpu,
                threshold=limits.max_client_cpu,
                detail=f"the load generator used {client_cpu:.0%} of a core; it must stay under "
                f"{limits.max_client_cpu:.0%} or it, not the server, may be the bottleneck",
            )
        )
    if open_loop:
        checks.extend(_open_loop_checks(summary, limits, scheduled, send_span_s))
    else:
        checks.append(
            ValidityCheck(
                name="open_loop",
                passed=False,
                required=False,
                detail="closed loop: a slow response delays the next request, so server stalls "
                "are under-sampled (coordinated omission); use open-loop mode for latency claims",
            )
        )
    reasons = [c.detail for c in checks if c.required and not c.passed]
    return ValidityReport(valid=not reasons, reasons=reasons, checks=checks)


def _open_loop_checks(
    summary: RunSummary,
    limits: ValidityThresholds,
    scheduled: int | None,
    send_span_s: float | None,
) -> list[ValidityCheck]:
    expected = scheduled if scheduled else summary.requests
    achieved = summary.sent / max(summary.duration_s, send_span_s or 0.0)
    target = expected / summary.duration_s
    deviation = abs(achieved - target) / target if target else 1.0
    queue_p99 = summary.queue_time.p99 if summary.queue_time else 0.0
    return [
        ValidityCheck(
            name="achieved_rate",
            passed=deviation <= limits.rate_tolerance,
            value=achieved,
            threshold=target,
            detail=f"sent {achieved:.2f} req/s of the {target:.2f} scheduled "
            f"({deviation:.1%} off; at most {limits.rate_tolerance:.0%} allowed)",
        ),
        ValidityCheck(
            name="no_dropped_requests",
            passed=summary.dropped == 0,
            value=summary.dropped,
            threshold=0,
            detail=f"{summary.dropped} requests dropped at the client's concurrency cap",
        ),
        ValidityCheck(
            name="client_queue_p99",
            passed=queue_p99 <= limits.max_queue_p99_ms,
            required=False,
            value=queue_p99,
            threshold=limits.max_queue_p99_ms,
            detail=f"p99 client-side send lateness {queue_p99:.1f} ms "
            f"(charged to latency; advisory limit {limits.max_queue_p99_ms:g} ms)",
        ),
    ]
