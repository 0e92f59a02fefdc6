"""Render a report folder: ``report.md`` (GitHub-flavoured Markdown) and its PNG figures.

The Markdown pastes into a GitHub Discussion as it is; its images are referenced by relative
file name (or under ``image_base_url``), so that they show once the PNGs are attached or
hosted next to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from benchmarks.results import LoadBalanceReport
from conformance import record_title, verdict_counts
from reports import plots
from reports.comparability import assess
from reports.inputs import ReportInputs
from reports.markdown import alert, bold, cell, code, count, table
from reports.redact import Redactor
from reports.runs import RunView, run_views
from reports.sections.benchmarks import benchmark_section, fmt
from reports.sections.comparison import comparison_section, pair_runs
from reports.sections.conformance import conformance_section
from reports.sections.cost import cost_section
from reports.sections.harness import harness_section
from reports.sections.loadbalance import loadbalance_section
from reports.sections.provenance import provenance_section
from reports.sections.streaming import streaming_section
from voicebox_api import SPEC_VERSION, __version__

__all__ = ["DISCUSSION_LIMIT", "RenderOptions", "RenderedReport", "render_report"]

DISCUSSION_LIMIT: Final = 65_536
"""Characters a GitHub Discussion body may hold."""
REPORT_NAME: Final = "report.md"

_POSTING_HINT: Final = """<!--
Before you post this to https://github.com/jamiepine/voicebox/discussions:
- attach each PNG of this folder (drag it into the editor) where its ![...](file.png) line is;
- add a "Deployment" section: the hardware, how you start the server and with which flags,
  and anything a user must set (TTS_REMOTE_URL, TTS_API_KEY).
-->"""


@dataclass(frozen=True)
class RenderOptions:
    title: str | None = None
    image_base_url: str | None = None
    """Prefix for image links (e.g. where the PNGs are hosted); relative names when None."""
    generated_at: datetime | None = None
    """Stated in the report; now when None (tests fix it)."""
    kit_version: str = __version__
    notes: tuple[str, ...] = ()
    """Shown under the title as a note (Markdown), e.g. how the demo made its numbers."""
    gpu_prices: Mapping[str, float] = field(default_factory=dict)
    """Dollars per GPU-hour by label (``provider``, ``reference`` or a run's label): the cost
    section prices each run's audio (``reports.sections.cost``)."""


@dataclass(frozen=True)
class RenderedReport:
    markdown: Path
    figures: list[Path]
    characters: int
    warnings: list[str] = field(default_factory=list)


def render_report(
    inputs: ReportInputs,
    out_dir: Path,
    options: RenderOptions | None = None,
    redactor: Redactor | None = None,
) -> RenderedReport:
    """Write ``report.md`` and its figures into ``out_dir``; inputs are already redacted."""
    options = options or RenderOptions()
    out_dir.mkdir(parents=True, exist_ok=True)
    views = run_views(inputs.runs)
    bench_figures = _bench_figures(views, out_dir)
    lb_figures = [
        _lb_figures(item.document, out_dir, i) for i, item in enumerate(inputs.loadbalance)
    ]
    link = _linker(options.image_base_url)
    lines = [
        *_header(inputs, views, options),
        *conformance_section(inputs.conformance),
        *benchmark_section(views, {k: link(v) for k, v in bench_figures.items()}),
        *cost_section(views, options.gpu_prices),
        *streaming_section(views, {k: link(v) for k, v in bench_figures.items()}),
        *loadbalance_section(
            inputs.loadbalance, [{k: link(v) for k, v in f.items()} for f in lb_figures]
        ),
        *comparison_section(views, inputs.conformance, inputs.environments),
        *harness_section(inputs.selfchecks, inputs.stalls),
        *provenance_section(inputs),
    ]
    text = "\n".join(lines).rstrip() + "\n"
    if redactor is not None:
        text = redactor.text_secrets_only(text)
    path = out_dir / REPORT_NAME
    path.write_text(text, encoding="utf-8")
    figures = [
        out_dir / p for p in [*bench_figures.values(), *(p for f in lb_figures for p in f.values())]
    ]
    warnings = list(_warnings(inputs, text))
    return RenderedReport(path, figures, len(text), warnings)


def _linker(base_url: str | None) -> Callable[[Path], str]:
    prefix = base_url.rstrip("/") + "/" if base_url else ""
    return lambda p: prefix + p.as_posix()


def _bench_figures(views: Sequence[RunView], out_dir: Path) -> dict[str, Path]:
    makers = {
        "latency_cdf": (plots.latency_cdf, "latency-cdf.png"),
        "load_curve": (plots.load_curve, "latency-throughput-vs-load.png"),
        "rtf": (plots.rtf_histogram, "rtf-histogram.png"),
        "ttfp_cdf": (plots.ttfp_cdf, "ttfp-cdf.png"),
    }
    made: dict[str, Path] = {}
    for name, (maker, filename) in makers.items():
        if maker(views, out_dir / filename) is not None:
            made[name] = Path(filename)
    return made


def _lb_figures(report: LoadBalanceReport, out_dir: Path, index: int) -> dict[str, Path]:
    suffix = f"-{index + 1}" if index else ""
    made: dict[str, Path] = {}
    share = Path(f"backend-share{suffix}.png")
    if plots.backend_share(report, out_dir / share) is not None:
        made["share"] = share
    if report.failover is not None:
        timeline = Path(f"failover-timeline{suffix}.png")
        plots.failover_timeline(report.failover, out_dir / timeline)
        made["failover"] = timeline
    return made


def _title(inputs: ReportInputs, options: RenderOptions) -> str:
    if options.title:
        return options.title
    found = [
        r.document.provenance.provider_health for r in inputs.conformance if r.role == "provider"
    ]
    found += [r.document.provenance.provider_health for r in inputs.runs if r.role == "provider"]
    for health in found:
        if health and health.get("model"):
            device = f" on {health['device']}" if health.get("device") else ""
            return f"Voicebox provider report: {health['model']}{device}"
    return "Voicebox provider report"


def _header(inputs: ReportInputs, views: Sequence[RunView], options: RenderOptions) -> list[str]:
    generated = options.generated_at or datetime.now(UTC)
    count = len(inputs.everything())
    lines = [
        f"# {cell(_title(inputs, options))}",
        "",
        _POSTING_HINT,
        "",
        f"<sub>Generated by voicebox-provider-kit {options.kit_version} (Provider API "
        f"v{SPEC_VERSION}) on {generated.astimezone(UTC):%Y-%m-%d %H:%M} UTC from {count} "
        f"documents. Numbers come from the documents listed under Provenance.</sub>",
        "",
    ]
    for note in options.notes:
        lines += [*alert("note", [note]), ""]
    rows = [
        *_conformance_rows(inputs),
        *_bench_rows(views),
        *_lb_rows(inputs),
        *_baseline_rows(views, inputs),
    ]
    if rows:
        lines += [*table(["", "Result"], rows), ""]
    return lines


def _conformance_rows(inputs: ReportInputs) -> list[list[str]]:
    return [
        [
            bold("Conformance") + (" (reference)" if item.role == "baseline" else ""),
            f"{record_title(item.document)} · {verdict_counts(item.document)} · "
            f"{code(item.document.provenance.provider_url)}",
        ]
        for item in inputs.conformance
    ]


def _bench_rows(views: Sequence[RunView]) -> list[list[str]]:
    mine = [v for v in views if not v.is_baseline]
    if not mine:
        return []
    invalid = sum(not v.run.validity.valid for v in mine)
    state = f"❌ {invalid} INVALID" if invalid else "✅ all valid"
    valid = [v for v in mine if v.run.validity.valid and v.run.summary.latency]
    best = max(valid, key=lambda v: v.run.summary.ok_rps, default=None)
    peak = ""
    if best is not None and best.run.summary.latency is not None:
        lat = best.run.summary.latency
        peak = (
            f" · highest valid throughput {fmt(best.run.summary.ok_rps, 2)} OK/s "
            f"({cell(best.label)}: p50 {fmt(lat.p50, 0)} ms, p95 {fmt(lat.p95, 0)} ms, "
            f"p99 {fmt(lat.p99, 0)} ms)"
        )
    return [[bold("Benchmarks"), f"{len(mine)} runs, {state}{peak}"]]


def _lb_rows(inputs: ReportInputs) -> list[list[str]]:
    rows = []
    for item in inputs.loadbalance:
        report = item.document
        parts = [f"{report.backends} backends ({code(report.nginx.balance)})"]
        if report.share is not None:
            parts.append(f"largest share deviation {report.share.max_deviation:.1%}")
        if report.failover is not None:
            parts.append(
                f"failover: {count(report.failover.burst.errors, 'error')}, recovered after "
                f"{fmt(report.failover.recovery_ms, 0, ' ms')}"
            )
        rows.append([bold("Load balancing"), " · ".join(parts)])
    return rows


def _baseline_rows(views: Sequence[RunView], inputs: ReportInputs) -> list[list[str]]:
    if not inputs.has_baseline:
        return []
    pairs = pair_runs(views)
    if not pairs:
        return [[bold("Baseline"), "reference documents given; no benchmark run pairs up"]]
    envs = [(e.role, e.document) for e in inputs.environments]
    comparable = sum(assess(p.provider.run, p.baseline.run, envs).comparable for p in pairs)
    return [
        [
            bold("Baseline"),
            f"{len(pairs)} run pairs against the reference server, "
            f"{comparable} shown comparable (see Baseline comparison)",
        ]
    ]


def _warnings(inputs: ReportInputs, text: str) -> list[str]:
    warnings = [f"skipped {name}: not a document of this kit" for name in inputs.skipped]
    if len(text) > DISCUSSION_LIMIT:
        warnings.append(
            f"report.md has {len(text):,} characters; a GitHub Discussion holds "
            f"{DISCUSSION_LIMIT:,}: post the Provenance section as a comment"
        )
    return warnings
