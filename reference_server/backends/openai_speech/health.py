"""The bridge's view of its upstream for ``/health`` (SPEC.md §4), kept fresh off the hot path.

``/health`` must stay cheap, so it never waits for the upstream: it answers the last known state
and, when that is older than ``ttl_s``, starts one background probe (``GET /health`` at the
upstream's origin, on its own one-connection client with a short timeout, so that generations
holding the pool cannot make the probe time out). Until the first probe answers the state is
``loading``. Generations report what they saw too, so a down upstream shows at once.

| the upstream | the bridge |
|---|---|
| answers 200 (``degraded`` in its body: degraded) | ``healthy`` |
| answers another 4xx (no ``/health``, a key wanted): it is up | ``healthy`` |
| answers 429 | ``degraded`` |
| answers 5xx whose body says ``loading`` | ``loading`` |
| answers another 5xx, times out or refuses the connection | ``unhealthy`` |
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Final

import httpx

from voicebox_api import HealthStatus

__all__ = ["PROBE_TIMEOUT_S", "UpstreamHealth", "health_url"]

PROBE_TIMEOUT_S: Final = 2.0
DEFAULT_TTL_S: Final = 5.0


def health_url(upstream: str) -> str:
    """``http://host:8091/v1`` -> ``http://host:8091/health`` (OpenAI base URLs end in /v1)."""
    base = upstream.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return f"{base}/health"


class UpstreamHealth:
    def __init__(
        self,
        client: httpx.Client,
        url: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._url = url
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._status: HealthStatus = "loading"
        self._checked_at: float | None = None
        self._probe: threading.Thread | None = None

    def status(self) -> HealthStatus:
        """The last known state; starts a background probe when it is stale (never waits)."""
        with self._lock:
            stale = self._checked_at is None or self._clock() - self._checked_at >= self._ttl_s
            if stale and (self._probe is None or not self._probe.is_alive()):
                self._probe = threading.Thread(target=self.refresh, name="bridge-health")
                self._probe.daemon = True
                self._probe.start()
            return self._status

    def refresh(self) -> HealthStatus:
        """Probe the upstream now (blocking, at most ``PROBE_TIMEOUT_S``) and remember it."""
        observed = self._probed()
        self.observe(observed)
        return observed

    def observe(self, status: HealthStatus) -> None:
        """What a probe or a generation saw of the upstream."""
        with self._lock:
            self._status = status
            self._checked_at = self._clock()

    def wait_idle(self, timeout_s: float) -> None:
        """Wait for a running probe (for tests and orderly shutdown)."""
        probe = self._probe
        if probe is not None:
            probe.join(timeout_s)

    def _probed(self) -> HealthStatus:
        try:
            response = self._client.get(self._url)
        except httpx.HTTPError:
            return "unhealthy"
        code = response.status_code
        if code == 429:
            return "degraded"
        if code >= 500:
            return "loading" if _said(response) == "loading" else "unhealthy"
        if code == 200 and _said(response) == "degraded":
            return "degraded"
        return "healthy"


def _said(response: httpx.Response) -> object:
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return None
    return body.get("status") if isinstance(body, dict) else None
