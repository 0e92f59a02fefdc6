"""The report's figures, drawn with matplotlib's object API on the Agg canvas (no display).

Each function writes one PNG and returns its path, or returns None when its inputs hold nothing
to draw (a curve needs two load levels, a histogram needs samples). Figures are small (700 px
wide at 100 dpi) so that they stay well under GitHub's attachment limits, and carry no
timestamps so that the same inputs give the same image.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from benchmarks.results import FailoverResult, LoadBalanceReport, RequestRecord
from reports.markdown import count
from reports.runs import LoadPoint, RunView, load_points

__all__ = [
    "backend_share",
    "failover_timeline",
    "latency_cdf",
    "load_curve",
    "rtf_histogram",
]

_SIZE: Final = (7.0, 4.0)
_DPI: Final = 100
_PROVIDER_COLOURS: Final = ("#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2")
_BASELINE_COLOURS: Final = ("#ff7f0e", "#d62728", "#bcbd22", "#7f7f7f")
_ERROR_COLOUR: Final = "#d62728"


def _figure(rows: int = 1, height: float = _SIZE[1]) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(_SIZE[0], height), dpi=_DPI, layout="constrained")
    axes = figure.subplots(rows, 1, squeeze=False, sharex=True)
    return figure, [row[0] for row in axes]


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", metadata={"Software": None})
    return path


def _colours(views: Sequence[RunView]) -> list[str]:
    provider, baseline = iter(_PROVIDER_COLOURS * 4), iter(_BASELINE_COLOURS * 6)
    return [next(baseline) if v.is_baseline else next(provider) for v in views]


def latency_cdf(views: Sequence[RunView], path: Path) -> Path | None:
    """The share of successful requests answered within x ms, one curve per run."""
    drawn = [(v, v.latencies_ms()) for v in views]
    drawn = [(v, values) for v, values in drawn if values]
    if not drawn:
        return None
    figure, (ax,) = _figure()
    for (view, values), colour in zip(drawn, _colours([v for v, _ in drawn]), strict=True):
        style = "--" if view.is_baseline else "-"
        ax.ecdf(values, label=f"{view.legend} (n={len(values)})", color=colour, linestyle=style)
    for level in (0.5, 0.95, 0.99):
        ax.axhline(level, color="#bbbbbb", linewidth=0.7, zorder=0)
        ax.annotate(
            f"p{level * 100:g}",
            (0.0, level),
            xycoords=("axes fraction", "data"),
            xytext=(3, 2 if level < 0.99 else -8),
            textcoords="offset points",
            fontsize=7,
            color="#777777",
        )
    ax.set_xscale("log")
    ax.set_xlabel("latency from intended send time (ms, log scale)")
    ax.set_ylabel("share of successful requests")
    ax.set_title("Latency CDF")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _save(figure, path)


def ttfp_cdf(views: Sequence[RunView], path: Path) -> Path | None:
    """When the first audio could play: TTFP of streamed runs, latency of whole-clip runs.
    Drawn only when some run streamed."""
    if not any(v.run.summary.ttfp is not None for v in views):
        return None
    drawn = []
    for view in views:
        streamed = view.run.summary.ttfp is not None
        values = (
            [r.ttfp_ms for r in view.run.records if r.ok and r.ttfp_ms is not None]
            if streamed
            else view.latencies_ms()
        )
        if values:
            drawn.append((view, values, streamed))
    figure, (ax,) = _figure()
    for (view, values, streamed), colour in zip(
        drawn, _colours([v for v, _, _ in drawn]), strict=True
    ):
        kind = "stream" if streamed else "whole clip"
        ax.ecdf(
            values,
            label=f"{view.legend}, {kind} (n={len(values)})",
            color=colour,
            linestyle="-" if streamed else "--",
        )
    ax.set_xscale("log")
    ax.set_xlabel("first audio from intended send time (ms, log scale)")
    ax.set_ylabel("share of successful requests")
    ax.set_title("Time to first audio")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _save(figure, path)


def load_curve(views: Sequence[RunView], path: Path) -> Path | None:
    """Latency percentiles and achieved throughput against offered load (open loop)."""
    by_series: dict[str, list[LoadPoint]] = defaultdict(list)
    for point in load_points(views):
        by_series[point.series].append(point)
    by_series = {name: points for name, points in by_series.items() if len(points) >= 2}
    if not by_series:
        return None
    figure, (top, bottom) = _figure(rows=2, height=5.5)
    provider, baseline = iter(_PROVIDER_COLOURS * 4), iter(_BASELINE_COLOURS * 6)
    for name, points in by_series.items():
        colour = next(baseline) if points[0].is_baseline else next(provider)
        _latency_lines(top, name, points, colour)
        offered = [p.offered_rps for p in points]
        bottom.plot(offered, [p.ok_rps for p in points], "o-", color=colour, label=name)
        _mark_invalid(top, bottom, points)
    top_offered = max(p.offered_rps for points in by_series.values() for p in points)
    bottom.plot(
        [0, top_offered],
        [0, top_offered],
        color="#999999",
        linestyle=":",
        label="ideal (all answered)",
    )
    top.set_ylabel("latency (ms)")
    top.set_yscale("log")
    top.set_title("Latency and throughput against offered load")
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=7)
    bottom.set_xlabel("offered load (requests/s, open loop)")
    bottom.set_ylabel("successful responses/s")
    bottom.grid(True, alpha=0.3)
    bottom.legend(fontsize=7)
    return _save(figure, path)


def _mark_invalid(top: Axes, bottom: Axes, points: Sequence[LoadPoint]) -> None:
    invalid = [p for p in points if not p.valid]
    if not invalid:
        return
    measured = [(p.offered_rps, p.p50_ms) for p in invalid if p.p50_ms is not None]
    top.plot(
        [x for x, _ in measured],
        [y for _, y in measured],
        "x",
        color=_ERROR_COLOUR,
        markersize=10,
        markeredgewidth=2,
        zorder=5,
    )
    bottom.plot(
        [p.offered_rps for p in invalid],
        [p.ok_rps for p in invalid],
        "x",
        color=_ERROR_COLOUR,
        markersize=10,
        markeredgewidth=2,
        zorder=5,
        label="INVALID run: do not quote",
    )


def _latency_lines(ax: Axes, name: str, points: Sequence[LoadPoint], colour: str) -> None:
    offered = [p.offered_rps for p in points]
    for attribute, style in (("p50_ms", "o-"), ("p95_ms", "s--"), ("p99_ms", "^:")):
        values = [getattr(p, attribute) for p in points]
        if any(v is not None for v in values):
            ys = [float("nan") if v is None else v for v in values]
            ax.plot(offered, ys, style, color=colour, label=f"{name} {attribute[:3]}")


def rtf_histogram(views: Sequence[RunView], path: Path) -> Path | None:
    """Real-time factor per generate request: below 1 is faster than real time."""
    drawn = [(v, v.rtfs()) for v in views]
    drawn = [(v, values) for v, values in drawn if values]
    if not drawn:
        return None
    figure, (ax,) = _figure()
    bins = _log_bins([x for _, values in drawn for x in values])
    for (view, values), colour in zip(drawn, _colours([v for v, _ in drawn]), strict=True):
        ax.hist(
            values,
            bins=bins,
            histtype="step",
            linewidth=1.4,
            color=colour,
            linestyle="--" if view.is_baseline else "-",
            label=f"{view.legend} (n={len(values)})",
        )
    ax.axvline(1.0, color=_ERROR_COLOUR, linewidth=1, linestyle=":", label="real time (RTF 1)")
    # Log scale: RTFs of a fast engine (0.01) and the real-time line (1) are decades apart.
    ax.set_xscale("log")
    ax.set_xlabel("RTF = latency / seconds of audio (log scale; lower is faster)")
    ax.set_ylabel("requests")
    ax.set_title("Real-time factor of /v1/generate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _save(figure, path)


def _log_bins(values: Sequence[float], count: int = 40) -> list[float]:
    """Log-spaced bin edges that cover the samples and the real-time line at 1."""
    positive = [v for v in values if v > 0] or [1.0]
    low, high = min(positive) / 1.2, max(*positive, 1.0) * 1.2
    ratio = (high / low) ** (1 / count)
    return [low * ratio**i for i in range(count + 1)]


def backend_share(report: LoadBalanceReport, path: Path) -> Path | None:
    """Requests served per backend against the even share, and throughput scaling 1→N."""
    if report.share is None and len(report.scaling) < 2:
        return None
    rows = (report.share is not None) + (len(report.scaling) >= 2)
    figure = Figure(figsize=(_SIZE[0], 3.2 * rows), dpi=_DPI, layout="constrained")
    axes = list(figure.subplots(rows, 1, squeeze=False)[:, 0])
    if report.share is not None:
        _share_bars(axes.pop(0), report)
    if len(report.scaling) >= 2:
        _scaling(axes.pop(0), report)
    return _save(figure, path)


def _share_bars(ax: Axes, report: LoadBalanceReport) -> None:
    assert report.share is not None
    names = sorted(report.share.share)
    shares = [report.share.share[n] for n in names]
    ax.bar(names, shares, color=_PROVIDER_COLOURS[0])
    even = 1 / max(1, len(names))
    ax.axhline(
        even, color="#555555", linestyle="--", linewidth=1, label=f"even share 1/{len(names)}"
    )
    for index, share in enumerate(shares):
        ax.annotate(f"{share:.1%}", (index, share), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("share of requests")
    ax.set_ylim(0, max([*shares, even]) * 1.2)
    ax.set_title(f"Share per backend ({report.nginx.balance})")
    ax.legend(fontsize=7)


def _scaling(ax: Axes, report: LoadBalanceReport) -> None:
    points = sorted(report.scaling, key=lambda p: p.backends)
    backends = [p.backends for p in points]
    one = next((p.ok_rps for p in points if p.backends == 1), points[0].ok_rps / points[0].backends)
    ax.plot(
        backends, [p.ok_rps for p in points], "o-", color=_PROVIDER_COLOURS[0], label="measured"
    )
    ax.plot(backends, [one * b for b in backends], ":", color="#999999", label="linear")
    ax.set_xlabel("backends")
    ax.set_ylabel("successful responses/s")
    ax.set_xticks(backends)
    ax.set_title("Throughput scaling")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def failover_timeline(failover: FailoverResult, path: Path) -> Path:
    """Responses per second by backend and the errors around the kill; events when the
    document carries no per-request records."""
    figure, (ax,) = _figure(height=3.6)
    records = _records(failover)
    if records:
        _timeline_from_records(ax, records, failover)
    else:
        _timeline_from_events(ax, failover)
    ax.axvline(0.0, color="#000000", linewidth=1.2, label=f"SIGKILL {failover.killed}")
    burst = failover.burst
    first, last = burst.first_error_after_kill_ms, burst.last_error_after_kill_ms
    label = f"error burst ({count(burst.errors, 'error')})"
    if first is not None and last is not None and last > first:
        ax.axvspan(first / 1000, last / 1000, color=_ERROR_COLOUR, alpha=0.15, label=label)
    elif first is not None:
        ax.axvline(first / 1000, color=_ERROR_COLOUR, linestyle="--", linewidth=1, label=label)
    ax.set_xlabel("seconds after the kill")
    ax.set_title("Failover: one backend killed mid-run")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return _save(figure, path)


def _records(failover: FailoverResult) -> list[RequestRecord]:
    """Per-request records, when the document carries them (an optional ``records`` member)."""
    extra: dict[str, Any] = failover.model_extra or {}
    raw = extra.get("records")
    if not isinstance(raw, list):
        return []
    return [r if isinstance(r, RequestRecord) else RequestRecord.model_validate(r) for r in raw]


def _timeline_from_records(
    ax: Axes, records: list[RequestRecord], failover: FailoverResult
) -> None:
    kill_at = _kill_epoch(records, failover)
    buckets: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for record in records:
        if record.ended_at is None:
            continue
        second = int((record.ended_at - kill_at) // 1)
        key = (record.served_by or "unattributed") if record.ok else "error"
        buckets[key][second] += 1
    seconds = sorted({s for counts in buckets.values() for s in counts})
    bottom = [0] * len(seconds)
    names = sorted(k for k in buckets if k != "error") + (["error"] if "error" in buckets else [])
    colours = iter(_PROVIDER_COLOURS * 4)
    for name in names:
        heights = [buckets[name].get(s, 0) for s in seconds]
        colour = _ERROR_COLOUR if name == "error" else next(colours)
        ax.bar(
            [s + 0.5 for s in seconds],
            heights,
            width=1.0,
            bottom=bottom,
            color=colour,
            label=name,
            align="center",
            linewidth=0,
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("responses per second")


def _kill_epoch(records: list[RequestRecord], failover: FailoverResult) -> float:
    """When the kill happened: the optional ``killed_at`` (epoch s) when the document has it,
    else ``killed_after_s`` counted from the first request (off by the run's set-up time)."""
    killed_at = (failover.model_extra or {}).get("killed_at")
    if isinstance(killed_at, int | float):
        return float(killed_at)
    return min(r.intended_at for r in records) + failover.killed_after_s


def _timeline_from_events(ax: Axes, failover: FailoverResult) -> None:
    burst = failover.burst
    named = []
    if burst.first_error_after_kill_ms is not None:
        named.append(("first error", burst.first_error_after_kill_ms / 1000))
    if burst.last_error_after_kill_ms is not None:
        named.append(("last error", burst.last_error_after_kill_ms / 1000))
    named.append(("recovered", failover.recovery_ms / 1000))
    # Events at the same moment share one label, or their labels would print over each other.
    merged: dict[float, list[str]] = {}
    for name, moment in named:
        merged.setdefault(round(moment, 4), []).append(name)
    events = [(" = ".join(names), moment) for moment, names in merged.items()]
    ax.axhline(0, color="#999999", linewidth=0.8, zorder=0)
    for index, (name, at) in enumerate(events):
        above = index % 2 == 0
        ax.plot([at], [0], "o", color=_ERROR_COLOUR if "error" in name else "#333333")
        ax.annotate(
            f"{name}\n{at * 1000:.0f} ms",
            (at, 0),
            xytext=(0, 22 if above else -34),
            textcoords="offset points",
            ha="center",
            fontsize=8,
            arrowprops={"arrowstyle": "-", "color": "#999999", "linewidth": 0.6},
        )
    ax.set_yticks([])
    ax.set_ylim(-1, 1)
    right = max([at for _, at in events] + [0.05])
    ax.set_xlim(-0.08 * right, right * 1.2)
    ax.text(
        0.99,
        0.04,
        "no per-request records in the document: events only",
        transform=ax.transAxes,
        ha="right",
        fontsize=7,
        color="#777777",
    )
