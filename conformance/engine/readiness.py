"""Whether the provider is up before it is judged (``--conformance-wait``).

A provider that is still starting has no socket yet, or answers ``/health`` with 503 while its
model loads (SPEC.md §4). Any other answer means a server is there to be judged, even a wrong
one: a ``/health`` that answers 404 or 500 is for HLT-1 to report, not a reason to wait.
"""

from __future__ import annotations

import time
from typing import Final

from voicebox_api import ProviderClient, ProviderTransportError

__all__ = ["LOADING_STATUS", "ProviderNotReady", "wait_for_provider"]

LOADING_STATUS: Final = 503


class ProviderNotReady(Exception):
    """The provider did not get ready in time; the message is one line for the user."""


def wait_for_provider(client: ProviderClient, timeout_s: float, *, poll_s: float = 1.0) -> None:
    """Poll ``/health`` until the provider answers other than 503, for up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = _health(client)
        if last is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderNotReady(last)
        time.sleep(min(poll_s, remaining))


def _health(client: ProviderClient) -> str | None:
    """None when a started server answered; else what was seen, for the message."""
    try:
        response = client.request("GET", "/health", retry=False)
    except ProviderTransportError as exc:
        return f"no answer: {type(exc).__name__}"
    if response.status_code == LOADING_STATUS:
        return "/health answered 503 (loading or unhealthy)"
    return None
