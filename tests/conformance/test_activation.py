"""The plugin runs only when asked (--provider-url or --conformance); its clauses are collected
as pytest collects anything; a provider that never gets ready is a usage error (exit code 4).

Each test is one pytest subprocess (several seconds on a busy machine) and needs no provider;
tests/conformance/test_options.py checks the same rule in the fast lane.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.checks import registered
from tests.conformance.pytest_run import run_pytest

pytestmark = pytest.mark.slow

UNREACHABLE = "http://127.0.0.1:9"
FAST = ["-p", "no:cacheprovider", "--asr-judge", "none", "--speaker-judge", "none"]
OWN_TEST = (
    "import sys\n\n"
    "def test_own():\n"
    "    assert 'conformance.checks' not in sys.modules\n"
    "    assert 'voicebox_api' not in sys.modules\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An unrelated project with one test of its own."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "test_own.py").write_text(OWN_TEST)
    return tmp_path


def test_the_environment_alone_switches_nothing_on(project: Path) -> None:
    """Finding 8: TTS_REMOTE_URL is Voicebox's own setting, present on developers' machines."""
    env = {"TTS_REMOTE_URL": UNREACHABLE, "TTS_API_KEY": "k", "WHISPER_MODE": "nonsense"}
    result = run_pytest(project, *FAST, env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "collected 1 item" in result.stdout
    assert "1 passed" in result.stdout
    assert "voicebox conformance" not in result.stdout


def test_collect_only_lists_and_counts_every_clause(project: Path) -> None:
    result = run_pytest(project, "--provider-url", UNREACHABLE, "--collect-only", "-q", *FAST)
    assert result.returncode == 0, result.stdout[-3000:]
    listed = [line for line in result.stdout.splitlines() if "::" in line]
    assert len(listed) == 1 + len(registered())
    assert f"{1 + len(registered())} tests collected" in result.stdout
    assert "voicebox-conformance::GEN-1" in listed


def test_a_provider_that_never_gets_ready_is_a_usage_error(project: Path) -> None:
    args = ["--provider-url", UNREACHABLE, "--conformance-wait", "0", "--case", "HLT-*", *FAST]
    result = run_pytest(project, *args)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR == 4
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == [
        f"ERROR: voicebox-conformance: the provider at {UNREACHABLE} was not ready within "
        "--conformance-wait 0 s (no answer: ProviderConnectionError); no case was run"
    ]
    assert "voicebox conformance (SPEC.md" not in result.stdout  # no verdicts
    assert "HLT-1" not in result.stdout


def test_conformance_without_a_provider_is_a_usage_error(project: Path) -> None:
    result = run_pytest(project, "--conformance", *FAST)
    assert result.returncode == 4
    assert "--conformance needs a provider" in result.stderr
