"""The load-balancing section: share per backend, scaling 1→N, failover, a slow backend."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.results import (
    FailoverResult,
    LoadBalanceReport,
    RunSummary,
    ScalingPoint,
    SlowBackendResult,
)
from reports.inputs import Loaded
from reports.markdown import bold, cell, code, code_block, count, details, image, table
from reports.sections.benchmarks import fmt

__all__ = ["loadbalance_section"]


def loadbalance_section(
    reports: Sequence[Loaded[LoadBalanceReport]], figures: Sequence[dict[str, str]]
) -> list[str]:
    if not reports:
        return []
    lines = ["## Load balancing", ""]
    for item, figs in zip(reports, figures, strict=True):
        lines += _report(item, figs)
    return lines


def _report(item: Loaded[LoadBalanceReport], figures: dict[str, str]) -> list[str]:
    report = item.document
    nginx = report.nginx
    lines = [
        f"{report.backends} backends behind nginx {cell(nginx.version)} ({code(nginx.balance)}), "
        f"target {code(report.provenance.target)}. Source: {code(item.source)}.",
        "",
        f"> {cell(nginx.rationale)}",
        "",
        *details(
            "nginx directives",
            table(
                ["Directive", "Value"],
                [[code(k), code(v)] for k, v in sorted(nginx.directives.items())],
            ),
        ),
        "",
        *details("Backend commands", code_block("\n".join(report.backend_command), "sh")),
        "",
    ]
    lines += _share(report, figures.get("share"))
    lines += _scaling(report.scaling)
    if report.failover is not None:
        lines += _failover(report.failover, figures.get("failover"))
    if report.slow_backend is not None:
        lines += _slow(report.slow_backend)
    return lines


def _share(report: LoadBalanceReport, figure: str | None) -> list[str]:
    share = report.share
    if share is None:
        return []
    even = 1 / max(1, len(share.share))
    rows = [
        [code(name), f"{share.requests.get(name, 0):,}", f"{value:.1%}", f"{value - even:+.1%}"]
        for name, value in sorted(share.share.items())
    ]
    lines = [
        "### Share per backend",
        "",
        *table(["Backend (X-Served-By)", "Requests", "Share", "From even"], rows, "lrrr"),
        "",
        f"Largest deviation from an even share: {bold(f'{share.max_deviation:.1%}')}; "
        f"{share.unattributed} responses carried no X-Served-By. {_run_line(share.run)}",
        "",
    ]
    if figure is not None:
        lines += [image("Share per backend", figure), ""]
    return lines


def _scaling(points: Sequence[ScalingPoint]) -> list[str]:
    if not points:
        return []
    with_latency = any(p.latency is not None for p in points)
    rows = []
    for point in sorted(points, key=lambda p: p.backends):
        lat = point.latency
        row = [str(point.backends), fmt(point.ok_rps, 2), f"{point.efficiency:.0%}"]
        if with_latency:
            row += [
                fmt(lat.p50 if lat else None),
                fmt(lat.p95 if lat else None),
                fmt(lat.p99 if lat else None),
            ]
        rows.append(row)
    header = ["Backends", "OK/s", "Efficiency"]
    header += ["p50 ms", "p95 ms", "p99 ms"] if with_latency else []
    return [
        "### Scaling 1→N",
        "",
        *table(header, rows, "rrrrrr"),
        "",
        "Efficiency: throughput over N times the one-backend throughput.",
        "",
    ]


def _failover(result: FailoverResult, figure: str | None) -> list[str]:
    burst = result.burst
    after = ", ".join(
        f"{code(k)} {v}" for k, v in sorted(result.requests_after_kill_by_backend.items())
    )
    lines = [
        "### Failover",
        "",
        f"Backend {code(result.killed)} was killed with SIGKILL {result.killed_after_s:.1f} s into "
        f"the run.",
        "",
        *table(
            [
                "Errors",
                "First error after kill",
                "Last error after kill",
                "Burst",
                "Recovered after",
            ],
            [
                [
                    f"{burst.errors:,}",
                    fmt(burst.first_error_after_kill_ms, 0, " ms"),
                    fmt(burst.last_error_after_kill_ms, 0, " ms"),
                    fmt(burst.burst_ms, 0, " ms"),
                    fmt(result.recovery_ms, 0, " ms"),
                ]
            ],
            "rrrrr",
        ),
        "",
        f"Requests served after the kill: {after or 'none recorded'}. {_run_line(result.run)}",
        "",
    ]
    if figure is not None:
        lines += [image("Failover timeline", figure), ""]
    return lines


def _slow(result: SlowBackendResult) -> list[str]:
    rows = []
    for policy, summary in sorted(result.by_policy.items()):
        lat = summary.latency
        rows.append(
            [
                code(policy),
                fmt(summary.ok_rps, 2),
                fmt(lat.p50 if lat else None),
                fmt(lat.p95 if lat else None),
                fmt(lat.p99 if lat else None),
                f"{summary.error_ratio:.2%}",
            ]
        )
    lines = [
        "### A slow backend: round robin against least connections",
        "",
        f"Backend {code(result.slow_backend)} was slowed {result.slowdown:g}×.",
        "",
        *table(["Policy", "OK/s", "p50 ms", "p95 ms", "p99 ms", "Error ratio"], rows, "lrrrrr"),
        "",
    ]
    return [*lines, *_slow_verdict(result), ""]


def _slow_verdict(result: SlowBackendResult) -> list[str]:
    p99 = {name: s.latency.p99 for name, s in result.by_policy.items() if s.latency is not None}
    if "round_robin" not in p99 or "least_conn" not in p99 or p99["least_conn"] <= 0:
        return []
    ratio = p99["round_robin"] / p99["least_conn"]
    better = "least_conn" if ratio > 1 else "round_robin"
    return [
        f"p99 round_robin ÷ least_conn = {bold(f'{ratio:.2f}×')}: {code(better)} kept the "
        f"tail shorter in this run."
    ]


def _run_line(summary: RunSummary) -> str:
    lat = summary.latency
    p99 = f", p99 {fmt(lat.p99)} ms" if lat else ""
    return (
        f"That run: {summary.requests:,} requests in {summary.duration_s:g} s, "
        f"{count(summary.errors, 'error')}{p99}."
    )
