"""Waiting for a freshly started provider: ready, still loading, or broken.

SPEC §4: ``/health`` answers 200 when ``healthy`` or ``degraded``, and 503 while ``loading`` or
when ``unhealthy``. Loading is worth waiting for; unhealthy is not, so the wait ends at once
with the server's own words instead of running out the clock.
"""

from __future__ import annotations

import json
import time
from typing import Final

import httpx

from orchestration.processes import ManagedProcess

__all__ = ["NotReadyError", "wait_ready"]

_POLL_S: Final = 0.25
_LOG_LINES: Final = 25


class NotReadyError(RuntimeError):
    """The server exited, said it is unhealthy, or did not get ready in time; the message
    ends with the meaningful tail of its log."""


def wait_ready(base_url: str, process: ManagedProcess, timeout_s: float) -> float:
    """Poll ``/health`` until it answers 200; return the seconds it took."""
    began = time.monotonic()
    last = "no answer"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() - began < timeout_s:
            if not process.running():
                raise _failure(process, "exited before it was ready")
            try:
                response = client.get(f"{base_url}/health")
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            else:
                if response.status_code == 200:
                    return time.monotonic() - began
                status = _status(response)
                last = f"HTTP {response.status_code}, status {status!r}"
                if status == "unhealthy":
                    raise _failure(process, f"reports itself unhealthy ({last})")
            time.sleep(_POLL_S)
    raise _failure(process, f"not ready after {timeout_s:.0f} s ({last})")


def _status(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return None
    status = body.get("status") if isinstance(body, dict) else None
    return status if isinstance(status, str) else None


def _failure(process: ManagedProcess, reason: str) -> NotReadyError:
    return NotReadyError(f"{reason}\n--- {process.log_path.name} ---\n{meaningful_tail(process)}")


def meaningful_tail(process: ManagedProcess) -> str:
    """The log's last lines without the access-log lines of our own /health polling."""
    lines = process.log_tail(lines=2000).splitlines()
    kept = [line for line in lines if '"GET /health' not in line]
    return "\n".join(kept[-_LOG_LINES:])
