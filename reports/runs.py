"""Views of benchmark runs that the tables and the plots share: labels, offered load, samples."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.results import RunResult
from reports.inputs import Loaded

__all__ = ["LoadPoint", "RunView", "load_points", "run_views"]

BASELINE_PREFIX = "reference · "


@dataclass(frozen=True)
class RunView:
    item: Loaded[RunResult]
    label: str

    @property
    def run(self) -> RunResult:
        return self.item.document

    @property
    def legend(self) -> str:
        """The label, flagged when the run's numbers must not be quoted."""
        return self.label if self.run.validity.valid else f"{self.label} (INVALID)"

    @property
    def is_baseline(self) -> bool:
        return self.item.role == "baseline"

    @property
    def offered_rps(self) -> float | None:
        """The rate the seeded schedule actually offered (a short Poisson schedule strays from
        the nominal rate); None for closed loops, where the server sets the pace."""
        return self.run.config.scheduled_rate_rps if self.run.mode == "open-loop" else None

    @property
    def nominal_rps(self) -> float | None:
        """The rate that was asked for (``--rate``): what names the run and pairs it."""
        return self.run.config.nominal_rate_rps if self.run.mode == "open-loop" else None

    def latencies_ms(self) -> list[float]:
        return [r.latency_ms for r in self.run.records if r.ok and r.latency_ms is not None]

    def rtfs(self) -> list[float]:
        """Per successful generate request: latency over seconds of audio."""
        return [
            r.latency_ms / 1000.0 / r.audio_s
            for r in self.run.records
            if r.ok and r.operation == "generate" and r.audio_s and r.latency_ms is not None
        ]


@dataclass(frozen=True)
class LoadPoint:
    """One level of offered load and what came back, from a whole run or one ramp step."""

    series: str
    is_baseline: bool
    offered_rps: float
    ok_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    valid: bool = True


def run_views(runs: Sequence[Loaded[RunResult]]) -> list[RunView]:
    """One view per run, labelled "open-loop generate 4/s" and unique within the report."""
    base = [_base_label(item) for item in runs]
    totals = Counter(base)
    seen: Counter[str] = Counter()
    views = []
    for item, label in zip(runs, base, strict=True):
        seen[label] += 1
        unique = f"{label} #{seen[label]}" if totals[label] > 1 else label
        views.append(RunView(item, unique))
    return views


def _base_label(item: Loaded[RunResult]) -> str:
    run = item.document
    scenario = run.provenance.scenario or run.config.scenario or "run"
    if run.provenance.dialect != "voicebox":  # e.g. an OpenAI speech server beside the kit's
        scenario = f"{scenario} via {run.provenance.dialect}"
    prefix = BASELINE_PREFIX if item.role == "baseline" else ""
    view = RunView(item, "")
    if view.nominal_rps is not None:
        return f"{prefix}{run.mode} {scenario} {view.nominal_rps:.3g}/s"
    users = run.config.users if run.mode == "locust" else run.config.concurrency
    suffix = f" ×{users}" if isinstance(users, int) else ""
    return f"{prefix}{run.mode} {scenario}{suffix}"


def load_points(views: Sequence[RunView]) -> list[LoadPoint]:
    """Offered load against latency and throughput: open-loop runs, and every ramp step."""
    points: list[LoadPoint] = []
    for view in views:
        run = view.run
        series = ("reference" if view.is_baseline else "provider") + f" · {run.provenance.scenario}"
        latency = run.summary.latency
        if view.offered_rps is not None and not run.steps:
            points.append(
                LoadPoint(
                    series,
                    view.is_baseline,
                    view.offered_rps,
                    run.summary.ok_rps,
                    latency.p50 if latency else None,
                    latency.p95 if latency else None,
                    latency.p99 if latency else None,
                    run.validity.valid,
                )
            )
        for step in run.steps:
            if step.target_rps is not None:
                points.append(
                    LoadPoint(
                        series,
                        view.is_baseline,
                        step.target_rps,
                        step.ok_rps,
                        step.p50_ms,
                        step.p95_ms,
                        None,
                        run.validity.valid,
                    )
                )
    return sorted(points, key=lambda p: (p.series, p.offered_rps))
