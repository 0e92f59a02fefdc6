"""Run ``python -m pytest`` in an empty directory, as a provider author would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestration.processes import python_env
from voicebox_api import ENV_VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` in ``tmp_path/empty``, without the developer's seed variables."""
    workdir = tmp_path / "empty"
    workdir.mkdir(exist_ok=True)
    outside = {k: v for k, v in os.environ.items() if k not in ENV_VARIABLES.values()}
    environment = python_env(env, base=outside)
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
