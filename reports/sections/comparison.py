"""The baseline comparison: the provider against the reference server, side by side, with ratios
and a plain statement of whether the two were measured under the same conditions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.results import RunSummary
from conformance import NOT_RUN, VERDICT_ORDER, ConformanceRecord, verdict_label
from reports.comparability import Comparability, assess
from reports.environment import EnvironmentSnapshot
from reports.inputs import Loaded
from reports.markdown import alert, bold, cell, clause_id, table
from reports.runs import RunView
from reports.sections.benchmarks import fmt

__all__ = ["Pair", "comparison_section", "pair_runs"]

_SAME_WITHIN = 0.05


@dataclass(frozen=True)
class Pair:
    provider: RunView
    baseline: RunView


@dataclass(frozen=True)
class _Metric:
    name: str
    value: Callable[[RunSummary], float | None]
    higher_is_better: bool
    digits: int = 1


_METRICS = (
    _Metric("Completed/s", lambda s: s.throughput_rps, True, 2),
    _Metric("OK/s", lambda s: s.ok_rps, True, 2),
    _Metric("p50 latency (ms)", lambda s: s.latency.p50 if s.latency else None, False),
    _Metric("p95 latency (ms)", lambda s: s.latency.p95 if s.latency else None, False),
    _Metric("p99 latency (ms)", lambda s: s.latency.p99 if s.latency else None, False),
    _Metric("RTF p50", lambda s: s.rtf.p50 if s.rtf else None, False, 3),
    _Metric("RTF p95", lambda s: s.rtf.p95 if s.rtf else None, False, 3),
    _Metric("Audio s/s", lambda s: s.audio_s_per_s, True, 2),
    _Metric("Goodput/s", lambda s: s.goodput.goodput_rps if s.goodput else None, True, 2),
    _Metric("Error ratio", lambda s: s.error_ratio, False, 4),
)


def pair_runs(views: Sequence[RunView]) -> list[Pair]:
    """Provider and reference runs of the same mode, scenario and offered rate."""
    provider = [v for v in views if not v.is_baseline]
    baseline = [v for v in views if v.is_baseline]
    pairs = [Pair(p, b) for p in provider for b in baseline if _key(p) == _key(b)]
    if not pairs and len(provider) == 1 and len(baseline) == 1:
        pairs = [Pair(provider[0], baseline[0])]
    return pairs


def _key(view: RunView) -> tuple[str, str | None, float | None]:
    rate = view.nominal_rps
    return view.run.mode, view.run.provenance.scenario, round(rate, 2) if rate else None


def comparison_section(
    views: Sequence[RunView],
    records: Sequence[Loaded[ConformanceRecord]],
    environments: Sequence[Loaded[EnvironmentSnapshot]],
) -> list[str]:
    has_baseline = any(v.is_baseline for v in views) or any(r.role == "baseline" for r in records)
    if not has_baseline:
        return []
    lines = ["## Baseline comparison: provider against the reference server", ""]
    lines += _conformance(records)
    pairs = pair_runs(views)
    if not pairs and any(v.is_baseline for v in views):
        lines += [
            "No provider run matches a reference run (same mode, scenario and offered "
            "rate), so no benchmark ratio is shown.",
            "",
        ]
    envs = [(e.role, e.document) for e in environments]
    for pair in pairs:
        lines += _pair(pair, assess(pair.provider.run, pair.baseline.run, envs))
    return lines


def _conformance(records: Sequence[Loaded[ConformanceRecord]]) -> list[str]:
    provider = next((r.document for r in records if r.role == "provider"), None)
    baseline = next((r.document for r in records if r.role == "baseline"), None)
    if provider is None or baseline is None:
        return []
    rows = [
        [verdict_label(v), str(provider.summary.get(v, 0)), str(baseline.summary.get(v, 0))]
        for v in VERDICT_ORDER
    ]
    lines = ["### Conformance", "", *table(["Verdict", "Provider", "Reference"], rows, "lrr"), ""]
    theirs = {c.id: c for c in baseline.cases}
    differing = [c for c in provider.cases if c.id in theirs and c.verdict != theirs[c.id].verdict]
    only = sorted({c.id for c in provider.cases} ^ set(theirs))
    if differing:
        lines += [
            f"Clauses where the verdicts differ ({len(differing)}):",
            "",
            *table(
                ["ID", "Level", "Provider", "Reference"],
                [
                    [
                        clause_id(c.id),
                        c.level,
                        verdict_label(c.verdict),
                        verdict_label(theirs[c.id].verdict),
                    ]
                    for c in differing
                ],
            ),
            "",
        ]
    else:
        lines += ["Every clause checked in both runs has the same verdict.", ""]
    if only:
        lines += [
            f"Checked in only one of the runs ({NOT_RUN} in the other): " + ", ".join(only) + ".",
            "",
        ]
    return lines


def _pair(pair: Pair, verdict: Comparability) -> list[str]:
    lines = [f"### {cell(pair.provider.label)} against {cell(pair.baseline.label)}", ""]
    if verdict.comparable:
        lines += [
            f"{bold('Comparable')}: measured under the same conditions, as far as the "
            "documents show:",
            "",
        ]
    else:
        caution = "Not shown to be comparable: read the ratios with the conditions below in mind."
        lines += [*alert("caution", [bold(caution)]), ""]
    names = ("Same machine", "Same session", "Same load", "Valid runs")
    lines += [
        f"- {f.mark} {bold(name)}: {cell(f.text)}"
        for name, f in zip(names, verdict.findings(), strict=True)
    ]
    lines += [
        "",
        *table(
            ["Metric", "Provider", "Reference", "Provider ÷ reference", "Better"],
            [_metric_row(m, pair) for m in _METRICS],
            "lrrrl",
        ),
        "",
    ]
    return lines


def _metric_row(metric: _Metric, pair: Pair) -> list[str]:
    mine = metric.value(pair.provider.run.summary)
    theirs = metric.value(pair.baseline.run.summary)
    ratio = mine / theirs if mine is not None and theirs else None
    return [
        metric.name,
        fmt(mine, metric.digits),
        fmt(theirs, metric.digits),
        f"{ratio:.2f}×" if ratio is not None else "—",
        _better(mine, theirs, ratio, metric.higher_is_better),
    ]


def _better(mine: float | None, theirs: float | None, ratio: float | None, higher: bool) -> str:
    if mine is None or theirs is None:
        return "—"
    if ratio is None:
        if mine == theirs:
            return "≈ same"
        return "provider" if (mine > theirs) == higher else "reference"
    if abs(ratio - 1) <= _SAME_WITHIN:
        return "≈ same"
    return "provider" if (ratio > 1) == higher else "reference"
