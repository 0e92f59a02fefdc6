"""The benchmark section: throughput, latency percentiles, RTF, goodput, errors, validity."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.results import Distribution, RunResult, ValidityCheck
from reports.markdown import alert, bold, cell, code, details, image, table
from reports.runs import RunView

__all__ = ["Figures", "benchmark_section", "fmt"]

Figures = dict[str, str]
"""Figure name (``latency_cdf``, ``load_curve``, ``rtf``) to its link: a file name beside the
report, or a URL."""


def fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def benchmark_section(views: Sequence[RunView], figures: Figures) -> list[str]:
    lines = ["## Benchmarks", ""]
    if not views:
        return [*lines, "No benchmark run was given.", ""]
    lines += _invalid_banner(views)
    lines += [
        "### Load and throughput",
        "",
        *_throughput_table(views),
        "",
        "### Latency",
        "",
        "Milliseconds, successful requests only, measured from each request's *intended* send "
        "time (open loop: late sends count against the server, no coordinated omission); exact "
        "nearest-rank percentiles over every request.",
        "",
        *_latency_table(views),
        "",
    ]
    lines += _operations(views)
    lines += _errors(views)
    lines += _figures(figures)
    lines += ["### Validity", "", *_validity(views)]
    return lines


def _invalid_banner(views: Sequence[RunView]) -> list[str]:
    invalid = [v for v in views if not v.run.validity.valid]
    if not invalid:
        return []
    lines = [
        bold(f"{len(invalid)} of {len(views)} runs are INVALID: do not quote their numbers."),
        "",
    ]
    for view in invalid:
        lines.append(f"- {bold(view.label)}: {cell('; '.join(view.run.validity.reasons))}")
    return [*alert("warning", lines), ""]


def _validity_cell(run: RunResult) -> str:
    return "✅ valid" if run.validity.valid else "❌ **INVALID**"


def _throughput_table(views: Sequence[RunView]) -> list[str]:
    slos = {v.run.summary.goodput.slo_ms for v in views if v.run.summary.goodput}
    goodput = f"Goodput/s (≤ {fmt(next(iter(slos)), 0)} ms)" if len(slos) == 1 else "Goodput/s"
    header = [
        "Run",
        "Validity",
        "Offered/s",
        "Requests",
        "Completed/s",
        "OK/s",
        "Error ratio",
        goodput,
        "Audio s/s",
        "Duration",
    ]
    rows = []
    for view in views:
        s = view.run.summary
        good = s.goodput
        good_text = (
            "no SLO set" if good is None else f"{fmt(good.goodput_rps, 2)} ({good.ratio:.0%})"
        )
        if good is not None and len(slos) > 1:
            good_text += f" ≤ {good.slo_ms:g} ms"
        rows.append(
            [
                cell(view.label),
                _validity_cell(view.run),
                fmt(view.offered_rps, 2) if view.offered_rps is not None else "closed loop",
                f"{s.requests:,}",
                fmt(s.throughput_rps, 2),
                fmt(s.ok_rps, 2),
                f"{s.error_ratio:.2%}",
                good_text,
                fmt(s.audio_s_per_s, 2),
                fmt(s.duration_s, 0, " s"),
            ]
        )
    return table(header, rows, "llrrrrrrrr")


def _latency_table(views: Sequence[RunView]) -> list[str]:
    header = ["Run", "n", "p50", "p95", "p99", "p99.9", "max", "RTF p50", "RTF p95", "Service p50"]
    rows = []
    for view in views:
        s = view.run.summary
        lat = s.latency
        rows.append(
            [
                cell(view.label),
                str(lat.count) if lat else "0",
                *_percentiles(lat),
                fmt(s.rtf.p50, 3) if s.rtf else "—",
                fmt(s.rtf.p95, 3) if s.rtf else "—",
                fmt(s.service_time.p50) if s.service_time else "—",
            ]
        )
    return table(header, rows, "lrrrrrrrrr")


def _percentiles(lat: Distribution | None) -> list[str]:
    if lat is None:
        return ["—"] * 5
    return [fmt(lat.p50), fmt(lat.p95), fmt(lat.p99), fmt(lat.p999), fmt(lat.max)]


def _operations(views: Sequence[RunView]) -> list[str]:
    mixed = [v for v in views if len(v.run.summary.by_operation) > 1]
    if not mixed:
        return []
    rows = []
    for view in mixed:
        for name, op in sorted(view.run.summary.by_operation.items()):
            lat = op.latency
            rows.append(
                [
                    cell(view.label),
                    code(name),
                    f"{op.requests:,}",
                    f"{op.ok:,}",
                    f"{op.errors:,}",
                    *_percentiles(lat)[:3],
                ]
            )
    header = ["Run", "Operation", "Requests", "OK", "Errors", "p50", "p95", "p99"]
    return ["### By operation", "", *table(header, rows, "llrrrrrr"), ""]


def _errors(views: Sequence[RunView]) -> list[str]:
    classes = sorted({name for v in views for name in v.run.summary.errors_by_class})
    lines = ["### Errors by class", ""]
    if not classes:
        return [*lines, "No request failed in any run.", ""]
    with_errors = [v for v in views if v.run.summary.errors_by_class]
    header = ["Error class", *(cell(v.label) for v in with_errors)]
    rows = [
        [code(name), *(f"{v.run.summary.errors_by_class.get(name, 0):,}" for v in with_errors)]
        for name in classes
    ]
    lines += table(header, rows, "l" + "r" * len(with_errors))
    lines += _correctness(views)
    return [*lines, ""]


def _correctness(views: Sequence[RunView]) -> list[str]:
    checked = [v for v in views if v.run.summary.correctness and v.run.summary.correctness.checked]
    if not checked:
        return []
    parts = []
    for view in checked:
        c = view.run.summary.correctness
        assert c is not None
        parts.append(
            f"{cell(view.label)}: {c.passed}/{c.checked} sampled responses passed "
            f"the audio checks ({c.sample_fraction:.0%} sampled)"
        )
    return ["", "Audio checked in full on a sample: " + "; ".join(parts) + "."]


_FIGURE_TEXT = {
    "latency_cdf": (
        "Latency CDF",
        "Each curve: the share of successful requests answered within "
        "x ms. Further left is faster; a long flat tail is a stall.",
    ),
    "load_curve": (
        "Latency and throughput against offered load",
        "Top: latency percentiles as "
        "the offered rate grows; bottom: successful responses per second against the "
        "ideal. Saturation is where the curves bend.",
    ),
    "rtf": (
        "Real-time factor",
        "Latency over seconds of audio per generate request; below 1 the "
        "provider speaks faster than real time.",
    ),
}


def _figures(figures: Figures) -> list[str]:
    lines: list[str] = []
    for name, (title, caption) in _FIGURE_TEXT.items():
        if name in figures:
            lines += [f"### {title}", "", image(title, figures[name]), "", caption, ""]
    return lines


def _validity(views: Sequence[RunView]) -> list[str]:
    lines = ["Whether each run measured the server rather than the load generator or chance.", ""]
    for view in views:
        run = view.run
        summary = f"{'✅' if run.validity.valid else '❌ INVALID'} {view.label}"
        body = table(
            ["Check", "Result", "Value", "Threshold", "Detail"],
            [_check_row(check) for check in run.validity.checks],
        )
        if run.slo is not None:
            verdict = "met" if run.slo.passed else "missed: " + "; ".join(run.slo.failures)
            body += ["", f"{bold('SLO')}: {cell(verdict)}"]
        lines += [*details(summary, body, open_=not run.validity.valid), ""]
    return lines


def _check_row(check: ValidityCheck) -> list[str]:
    if check.passed:
        result = "✅ pass"
    elif check.required:
        result = "❌ **fail**"
    else:
        result = "⚠️ advisory"
    return [
        code(check.name),
        result,
        _number(check.value),
        _number(check.threshold),
        cell(check.detail),
    ]


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if abs(value) >= 0.01 or value == 0 else f"{value:.2e}"
