"""The streaming section (SPEC.md §14): time to first packet, playback stalls, and streamed
runs beside whole-clip runs. Rendered only when a run streamed."""

from __future__ import annotations

from collections.abc import Sequence

from reports.markdown import cell, image, table
from reports.runs import RunView
from reports.sections.benchmarks import Figures, fmt

__all__ = ["streaming_section"]


def streaming_section(views: Sequence[RunView], figures: Figures) -> list[str]:
    streamed = [v for v in views if v.run.summary.ttfp is not None]
    if not streamed:
        return []
    lines = [
        "## Streaming",
        "",
        "Time to first packet (TTFP) is measured from each request's *intended* send time to "
        "its first audio frame; a player that starts playing at that frame stalls whenever a "
        "later frame comes after its first sample is due (SPEC.md §14).",
        "",
        "### Time to first packet",
        "",
        *_ttfp_table(streamed),
        "",
        "### Streaming against whole clips",
        "",
        "When the first audio can play: for a streamed run its first frame, for a whole-clip "
        "(JSON) run the whole answer, which is when its first sample arrives.",
        "",
        *_side_by_side(views),
        "",
    ]
    if "ttfp_cdf" in figures:
        title = "First audio CDF"
        lines += [
            f"### {title}",
            "",
            image(title, figures["ttfp_cdf"]),
            "",
            "Each curve: the share of requests whose first audio could play within x ms; "
            "whole-clip runs dashed.",
            "",
        ]
    return lines


def _ttfp_table(views: Sequence[RunView]) -> list[str]:
    rows = []
    for view in views:
        s = view.run.summary
        assert s.ttfp is not None
        ratios = [
            r.ttfp_ms / r.latency_ms
            for r in view.run.records
            if r.ok and r.ttfp_ms is not None and r.latency_ms
        ]
        ratios.sort()
        rows.append(
            [
                cell(view.legend),
                str(s.ttfp.count),
                fmt(s.ttfp.p50),
                fmt(s.ttfp.p95),
                fmt(s.ttfp.p99),
                fmt(s.ttfp.max),
                fmt(s.latency.p50 if s.latency else None),
                fmt(ratios[len(ratios) // 2] if ratios else None, 2),
                str(s.underrun_requests or 0),
                fmt(s.stall_s, 3),
            ]
        )
    header = [
        "Run",
        "Streams",
        "TTFP p50 ms",
        "p95",
        "p99",
        "max",
        "Complete p50 ms",
        "TTFP / complete p50",
        "Streams that stalled",
        "Stall s (total)",
    ]
    return table(header, rows)


def _side_by_side(views: Sequence[RunView]) -> list[str]:
    rows = []
    for view in views:
        s = view.run.summary
        streamed = s.ttfp is not None
        first = s.ttfp if streamed else s.latency
        rows.append(
            [
                cell(view.legend),
                "stream" if streamed else "whole clip",
                fmt(first.p50 if first else None),
                fmt(first.p99 if first else None),
                fmt(s.latency.p50 if s.latency else None),
                fmt(s.rtf.p50 if s.rtf else None, 3),
                fmt(s.audio_s_per_s, 2),
            ]
        )
    header = [
        "Run",
        "Answer",
        "First audio p50 ms",
        "p99",
        "Complete p50 ms",
        "RTF p50",
        "Audio s/s",
    ]
    return table(header, rows)
