"""Fixtures for the benchmark tests: a test provider on a free loopback port, always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.scenarios import ScenarioSettings, load_corpus, tone_reference
from testkit.testing_provider import launch


@pytest.fixture
def settings() -> ScenarioSettings:
    return ScenarioSettings(
        scenario="generate", texts=tuple(load_corpus()), references=(tone_reference(),)
    )


@pytest.fixture
def provider(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A test provider; parametrize indirectly with its command-line flags."""
    flags: list[str] = list(getattr(request, "param", ["--service", "fixed:10"]))
    with launch(tmp_path, *flags, "--seconds-per-char", "0.005") as (url, _):
        yield url
