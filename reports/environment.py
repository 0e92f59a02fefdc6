"""A snapshot of the machine a provider runs on: CPU, GPU, OS, Python and key package versions.

Benchmark documents describe the machine that *sent* the load; a provider's ``/health`` names
only its model and device. Run ``python -m reports environment --out environment.json`` on the
server machine (the demo does it for its local reference server) and give the file to
``python -m reports`` so that the report can say what hardware served the numbers.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from voicebox_api import __version__

__all__ = ["KEY_PACKAGES", "EnvironmentSnapshot", "GpuInfo", "capture_environment"]

KEY_PACKAGES: Final = (
    "voicebox-provider-kit",
    "torch",
    "numpy",
    "httpx",
    "pydantic",
    "fastapi",
    "uvicorn",
    "faster-whisper",
    "ctranslate2",
    "resemblyzer",
    "qwen-tts",
    "transformers",
    "locust",
    "matplotlib",
    "soundfile",
)
_NVIDIA_SMI_TIMEOUT_S: Final = 10.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class GpuInfo(_Model):
    name: str
    memory_mib: int | None = None
    driver: str | None = None


class EnvironmentSnapshot(_Model):
    schema_version: Literal["1"] = "1"
    kind: Literal["environment"] = "environment"
    kit_version: str
    captured_at: datetime
    role: str = Field(default="server", description="What this machine did: server, client.")
    hostname: str
    os: str = Field(description="platform.platform()")
    python: str
    cpu_model: str
    cpu_count: int
    memory_gib: float | None = None
    gpus: list[GpuInfo] = Field(default_factory=list)
    gpu_source: str = Field(description="nvidia-smi, or why no GPU is listed.")
    packages: dict[str, str | None] = Field(
        default_factory=dict, description="Installed versions; null when not installed."
    )


def capture_environment(role: str = "server") -> EnvironmentSnapshot:
    gpus, gpu_source = _gpus()
    return EnvironmentSnapshot(
        kit_version=__version__,
        captured_at=datetime.now(UTC),
        role=role,
        hostname=socket.gethostname(),
        os=platform.platform(),
        python=sys.version.split()[0],
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count() or 1,
        memory_gib=_memory_gib(),
        gpus=gpus,
        gpu_source=gpu_source,
        packages={name: _version(name) for name in KEY_PACKAGES},
    )


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    if sys.platform == "darwin" and shutil.which("sysctl"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
    return platform.processor() or platform.machine() or "unknown"


def _memory_gib() -> float | None:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * page_size / 2**30, 1)


def _gpus() -> tuple[list[GpuInfo], str]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return [], "no nvidia-smi on PATH"
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=_NVIDIA_SMI_TIMEOUT_S,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return [], f"nvidia-smi failed: {type(exc).__name__}"
    gpus = [_gpu_line(line) for line in out.splitlines() if line.strip()]
    return gpus, "nvidia-smi"


def _gpu_line(line: str) -> GpuInfo:
    name, _, rest = line.partition(",")
    memory, _, driver = rest.partition(",")
    with contextlib.suppress(ValueError):
        return GpuInfo(name=name.strip(), memory_mib=int(float(memory)), driver=driver.strip())
    return GpuInfo(name=name.strip())


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
