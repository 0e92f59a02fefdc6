"""Shared fixtures: the fixture documents, and a report rendered from them once per session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reports.inputs import ReportInputs, load_inputs
from reports.redact import Redactor
from reports.render import RenderedReport, RenderOptions, render_report
from tests.reports.make_fixtures import FIXTURES

GENERATED_AT = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
PROVIDER_FILES = (
    "conformance-provider.json",
    "run-provider-1.json",
    "run-provider-2.json",
    "run-provider-4.json",
    "run-provider-8.json",
    "loadbalance.json",
    "selfcheck.json",
    "stall-comparison.json",
    "environment-provider.json",
)
BASELINE_FILES = (
    "conformance-reference.json",
    "run-reference-2.json",
    "environment-reference.json",
)


def fixture_paths(names: tuple[str, ...]) -> list[Path]:
    return [FIXTURES / name for name in names]


def options() -> RenderOptions:
    return RenderOptions(generated_at=GENERATED_AT, kit_version="0.2.0")


Render = Callable[..., tuple[RenderedReport, ReportInputs]]


@pytest.fixture
def render(tmp_path: Path) -> Render:
    """Render chosen fixtures into a fresh folder: ``render(provider, baseline, **redactor)``."""

    def _render(
        provider: tuple[str, ...] = PROVIDER_FILES,
        baseline: tuple[str, ...] = BASELINE_FILES,
        out: Path | None = None,
        **redaction: object,
    ) -> tuple[RenderedReport, ReportInputs]:
        redactor = Redactor(**redaction)  # type: ignore[arg-type]
        inputs = load_inputs(fixture_paths(provider), fixture_paths(baseline), redactor)
        rendered = render_report(inputs, out or tmp_path / "report", options(), redactor)
        return rendered, inputs

    return _render


@pytest.fixture(scope="session")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> RenderedReport:
    """The full fixture report, rendered once (plots take a second or two)."""
    out = tmp_path_factory.mktemp("full-report")
    redactor = Redactor()
    inputs = load_inputs(fixture_paths(PROVIDER_FILES), fixture_paths(BASELINE_FILES), redactor)
    return render_report(inputs, out, options(), redactor)
