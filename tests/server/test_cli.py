"""``python -m reference_server``: help, clear start-up failures, and a real start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from orchestration.processes import ReferenceServerProcess, python_env

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reference_server", *args],
        cwd=ROOT,
        env=python_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_flags_and_variables() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for needle in ("--backend", "--api-key", "TTS_API_KEY", "VOICEBOX_REF_PORT", "--whisper"):
        assert needle in result.stdout


def test_an_unknown_backend_fails_at_start_up_with_the_choices() -> None:
    result = _run("--backend", "festival", "--port", "0")
    assert result.returncode == 2
    assert "unknown backend 'festival'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_environment_value_fails_with_its_name() -> None:
    result = _run(env={"VOICEBOX_REF_QUEUE_SIZE": "many"})
    assert result.returncode == 2
    assert "VOICEBOX_REF_QUEUE_SIZE" in result.stderr


@pytest.mark.slow
def test_the_server_starts_serves_and_stops() -> None:
    with (
        ReferenceServerProcess(
            "--backend", "synthetic", "--whisper", "none", "--instance-id", "cli"
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        health = client.get("/health")
        assert health.status_code == 200
        assert health.headers["x-served-by"] == "cli"
    assert server.exited_cleanly, server.lines
