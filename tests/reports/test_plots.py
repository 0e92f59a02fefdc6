"""The figures: produced, real PNGs, not blank, small enough to attach; skipped when empty."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from benchmarks.results import LoadBalanceReport
from reports import plots
from reports.inputs import load_inputs
from reports.render import RenderedReport
from reports.runs import run_views
from tests.reports.conftest import fixture_paths

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_real_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path.name} is not a PNG"
    assert 5_000 < len(data) < 300_000, f"{path.name} has {len(data)} bytes"
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 20, f"{path.name} is nearly a single colour"
    dominant = max(count for count, _ in colours) / sum(count for count, _ in colours)
    assert dominant < 0.97, f"{path.name} is {dominant:.0%} one colour"


def test_every_figure_of_the_full_report_is_a_real_png(full_report: RenderedReport) -> None:
    names = sorted(p.name for p in full_report.figures)
    assert names == [
        "backend-share.png",
        "failover-timeline.png",
        "latency-cdf.png",
        "latency-throughput-vs-load.png",
        "rtf-histogram.png",
    ]
    for figure in full_report.figures:
        assert_real_png(figure)


def test_the_same_inputs_draw_the_same_image(tmp_path: Path) -> None:
    views = run_views(load_inputs(fixture_paths(("run-provider-1.json",))).runs)
    first = plots.latency_cdf(views, tmp_path / "a.png")
    second = plots.latency_cdf(views, tmp_path / "b.png")
    assert first is not None
    assert second is not None
    assert first.read_bytes() == second.read_bytes()


def test_one_load_level_draws_no_load_curve(tmp_path: Path) -> None:
    views = run_views(load_inputs(fixture_paths(("run-provider-1.json",))).runs)
    assert plots.load_curve(views, tmp_path / "curve.png") is None
    assert not (tmp_path / "curve.png").exists()


def test_runs_without_records_draw_no_cdf_and_no_rtf(tmp_path: Path) -> None:
    views = run_views(load_inputs(fixture_paths(("run-provider-1.json",))).runs)
    for view in views:
        view.run.records.clear()
    assert plots.latency_cdf(views, tmp_path / "cdf.png") is None
    assert plots.rtf_histogram(views, tmp_path / "rtf.png") is None


def _loadbalance() -> LoadBalanceReport:
    return load_inputs(fixture_paths(("loadbalance.json",))).loadbalance[0].document


def test_failover_timeline_uses_records_when_the_document_has_them(tmp_path: Path) -> None:
    report = _loadbalance()
    assert report.failover is not None
    runs = load_inputs(fixture_paths(("run-provider-2.json",))).runs
    records = [r.model_dump(mode="json") for r in runs[0].document.records]
    with_records = report.failover.model_copy(update={"records": records})
    assert with_records.model_extra is not None
    with_records.model_extra["records"] = records
    path = plots.failover_timeline(with_records, tmp_path / "timeline.png")
    assert_real_png(path)
    events_only = plots.failover_timeline(report.failover, tmp_path / "events.png")
    assert path.read_bytes() != events_only.read_bytes()


@pytest.mark.parametrize("drop", ["share", "scaling"])
def test_backend_share_draws_what_is_there(tmp_path: Path, drop: str) -> None:
    report = _loadbalance().model_copy(update={drop: None if drop == "share" else []})
    path = plots.backend_share(report, tmp_path / "share.png")
    assert path is not None
    assert_real_png(path)


def test_backend_share_without_share_or_scaling_draws_nothing(tmp_path: Path) -> None:
    report = _loadbalance().model_copy(update={"share": None, "scaling": []})
    assert plots.backend_share(report, tmp_path / "share.png") is None
