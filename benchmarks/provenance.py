"""Where a result comes from: the client machine, the kit, and the provider's own /health."""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from benchmarks.results import ClientHost, Provenance
from voicebox_api import SPEC_VERSION, __version__

__all__ = ["client_host", "fetch_health", "provenance", "redact"]

_SECRET_OPTIONS = ("--api-key",)


def redact(argv: Sequence[str]) -> list[str]:
    """argv with secrets replaced: results documents get shared, keys must not be."""
    result: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            result.append("***")
            hide_next = False
        elif arg in _SECRET_OPTIONS:
            result.append(arg)
            hide_next = True
        elif arg.startswith(tuple(f"{o}=" for o in _SECRET_OPTIONS)):
            result.append(arg.split("=", 1)[0] + "=***")
        else:
            result.append(arg)
    return result


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def client_host() -> ClientHost:
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return ClientHost(
        hostname=socket.gethostname(),
        os=platform.platform(),
        python=sys.version.split()[0],
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count() or 1,
        load_average=load,
    )


def fetch_health(base_url: str, timeout_s: float = 5.0) -> tuple[dict[str, Any] | None, str | None]:
    """The provider's ``/health`` body, verbatim, or why it could not be read."""
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/health", timeout=timeout_s, trust_env=False)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:200]
    if not isinstance(body, dict):
        return None, f"HTTP {response.status_code}: the body is not a JSON object"
    return body, None if response.is_success else f"HTTP {response.status_code}"


def provenance(
    tool: str,
    target: str,
    *,
    started_at: float,
    ended_at: float | None = None,
    scenario: str | None = None,
    dialect: str = "voicebox",
    seeds: Mapping[str, int | str | None] | None = None,
    health: tuple[dict[str, Any] | None, str | None] = (None, None),
    command: Sequence[str] | None = None,
    notes: Sequence[str] = (),
) -> Provenance:
    return Provenance(
        tool=tool,
        kit_version=__version__,
        spec_version=SPEC_VERSION,
        command=redact(command if command is not None else sys.argv),
        target=target,
        scenario=scenario,
        dialect=dialect,
        seeds=dict(seeds or {}),
        started_at=started_at,
        ended_at=ended_at if ended_at is not None else time.time(),
        client=client_host(),
        provider_health=health[0],
        provider_health_error=health[1],
        notes=list(notes),
    )
