"""The harness's own measurements: its self-check and the coordinated-omission demonstration."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.results import SelfCheckReport, StallComparison
from reports.inputs import Loaded
from reports.markdown import alert, bold, cell, code, table
from reports.sections.benchmarks import fmt

__all__ = ["harness_section"]


def harness_section(
    selfchecks: Sequence[Loaded[SelfCheckReport]], stalls: Sequence[Loaded[StallComparison]]
) -> list[str]:
    if not selfchecks and not stalls:
        return []
    lines = ["## The harness itself", ""]
    for item in selfchecks:
        lines += _selfcheck(item.document)
    for stall in stalls:
        lines += _stall(stall.document)
    return lines


def _selfcheck(report: SelfCheckReport) -> list[str]:
    lines = ["### Self-check against a null provider", ""]
    if report.provisional:
        lines += [*alert("note", ["Provisional: measured on a shared or busy machine."]), ""]
    lines += [
        f"Null provider: {code(report.null_provider)}; wrk: "
        f"{fmt(report.wrk_rps, 0, ' req/s') if report.wrk_rps else 'not run'}.",
        "",
    ]
    client_rows = [
        [code(name), fmt(v.get("rps"), 0), fmt(v.get("cpu"), 2), fmt(v.get("ratio_to_wrk"), 2)]
        for name, v in sorted(report.clients.items())
    ]
    lines += [*table(["Client", "req/s", "CPU (cores)", "÷ wrk"], client_rows, "lrrr"), ""]
    if report.schedule_accuracy:
        keys = sorted({k for row in report.schedule_accuracy for k in row})
        rows = [[fmt(row.get(k), 2) for k in keys] for row in report.schedule_accuracy]
        lines += [
            "Open-loop schedule accuracy:",
            "",
            *table([code(k) for k in keys], rows, "r" * len(keys)),
            "",
        ]
    return lines


def _stall(report: StallComparison) -> list[str]:
    lines = [
        "### One stall, seen by open and closed loops",
        "",
        f"The {cell(report.service)} stalled for {report.stall_s:g} s at {report.stall_at_s:g} s; "
        f"a request counts as affected above {report.affected_threshold_ms:g} ms.",
        "",
    ]
    rows = []
    for obs in report.observations:
        lat = obs.summary.latency
        rows.append(
            [
                code(obs.generator),
                cell(obs.description, 80),
                f"{obs.summary.requests:,}",
                f"{obs.affected:,}",
                f"{obs.server_held:,}",
                fmt(lat.p99 if lat else None),
                fmt(lat.max if lat else None),
            ]
        )
    header = ["Generator", "How", "Requests", "Affected", "Held by the server", "p99 ms", "max ms"]
    lines += [
        *table(header, rows, "llrrrrr"),
        "",
        f"{bold('Reading')}: a generator that reports fewer affected requests than the "
        "server held hides the stall (coordinated omission).",
        "",
    ]
    return lines
