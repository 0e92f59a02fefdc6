"""Exact statistics over request records: nearest-rank percentiles and the run summary."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from benchmarks.results import (
    CorrectnessSummary,
    Distribution,
    GoodputSummary,
    OperationSummary,
    RequestRecord,
    RunSummary,
)

__all__ = ["distribution", "percentile", "summarize"]


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values: an observed value, never a blend.

    ``fraction`` is in (0, 1]; p99 is ``percentile(values, 0.99)``.
    """
    if not sorted_values:
        raise ValueError("no samples")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    # A small epsilon keeps 0.95 * 100 == 95.00000000000001 from moving up one rank.
    rank = max(1, math.ceil(fraction * len(sorted_values) - 1e-9))
    return sorted_values[rank - 1]


def distribution(values: Iterable[float], unit: str = "ms") -> Distribution | None:
    """Exact order statistics of ``values``; ``None`` for an empty sample."""
    ordered = sorted(values)
    if not ordered:
        return None
    return Distribution(
        count=len(ordered),
        min=ordered[0],
        mean=math.fsum(ordered) / len(ordered),
        p50=percentile(ordered, 0.50),
        p90=percentile(ordered, 0.90),
        p95=percentile(ordered, 0.95),
        p99=percentile(ordered, 0.99),
        p999=percentile(ordered, 0.999),
        max=ordered[-1],
        unit=unit,
    )


def _latencies(records: Iterable[RequestRecord]) -> list[float]:
    return [r.latency_ms for r in records if r.ok and r.latency_ms is not None]


def _by_operation(records: Sequence[RequestRecord]) -> dict[str, OperationSummary]:
    operations = sorted({r.operation for r in records})
    result: dict[str, OperationSummary] = {}
    for operation in operations:
        chosen = [r for r in records if r.operation == operation]
        ok = sum(r.ok for r in chosen)
        result[operation] = OperationSummary(
            requests=len(chosen),
            ok=ok,
            errors=len(chosen) - ok,
            latency=distribution(_latencies(chosen)),
        )
    return result


def _rtf(records: Iterable[RequestRecord], server: bool) -> list[float]:
    ratios: list[float] = []
    for r in records:
        if not (r.ok and r.audio_s and r.operation == "generate"):
            continue
        if server:
            if "inference" in r.server_timing:
                ratios.append(r.server_timing["inference"] / 1000.0 / r.audio_s)
        elif r.latency_ms is not None:
            ratios.append(r.latency_ms / 1000.0 / r.audio_s)
    return ratios


def _correctness(records: Sequence[RequestRecord], fraction: float) -> CorrectnessSummary:
    checked = [r for r in records if r.checked]
    failed = Counter(r.error_class or "" for r in checked if not r.ok)
    return CorrectnessSummary(
        sample_fraction=fraction,
        checked=len(checked),
        passed=len(checked) - sum(failed.values()),
        failed=sum(failed.values()),
        failures_by_class=dict(sorted(failed.items())),
    )


def summarize(
    records: Sequence[RequestRecord],
    duration_s: float,
    *,
    slo_ms: float | None = None,
    check_fraction: float | None = None,
) -> RunSummary:
    """Summarise records over a window of ``duration_s`` seconds (the scheduled duration)."""
    if duration_s <= 0:
        raise ValueError("duration_s must be positive")
    sent = [r for r in records if r.sent_at is not None]
    completed = [r for r in sent if r.ended_at is not None]
    ok = [r for r in records if r.ok]
    errors = Counter(r.error_class or "unknown" for r in records if not r.ok)
    audio = math.fsum(r.audio_s for r in ok if r.audio_s)
    goodput = None
    if slo_ms is not None:
        within = sum(1 for r in ok if r.latency_ms is not None and r.latency_ms <= slo_ms)
        goodput = GoodputSummary(
            slo_ms=slo_ms,
            within_slo=within,
            goodput_rps=within / duration_s,
            ratio=within / len(records) if records else 0.0,
        )
    return RunSummary(
        duration_s=duration_s,
        requests=len(records),
        sent=len(sent),
        ok=len(ok),
        errors=len(records) - len(ok),
        error_ratio=(len(records) - len(ok)) / len(records) if records else 0.0,
        errors_by_class=dict(sorted(errors.items())),
        dropped=len(records) - len(sent),
        throughput_rps=len(completed) / duration_s,
        ok_rps=len(ok) / duration_s,
        latency=distribution(_latencies(records)),
        service_time=distribution(r.service_ms for r in ok if r.service_ms is not None),
        queue_time=distribution(r.queue_ms for r in sent),
        by_operation=_by_operation(records),
        rtf=distribution(_rtf(records, server=False), unit="ratio"),
        server_rtf=distribution(_rtf(records, server=True), unit="ratio"),
        audio_seconds=audio,
        audio_s_per_s=audio / duration_s,
        goodput=goodput,
        request_bytes=sum(r.request_bytes for r in sent),
        response_bytes=sum(r.response_bytes for r in completed),
        served_by=dict(sorted(Counter(r.served_by for r in completed if r.served_by).items())),
        correctness=_correctness(records, check_fraction) if check_fraction is not None else None,
        **_streaming(ok),
    )


def _streaming(ok: Sequence[RequestRecord]) -> dict[str, Any]:
    streamed = [r for r in ok if r.ttfp_ms is not None]
    if not streamed:
        return {}
    return {
        "ttfp": distribution(r.ttfp_ms for r in streamed if r.ttfp_ms is not None),
        "underrun_requests": sum(1 for r in streamed if r.underruns),
        "stall_s": math.fsum(r.stall_s or 0.0 for r in streamed),
    }
