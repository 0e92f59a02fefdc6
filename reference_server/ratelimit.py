"""Per-client token buckets: ``rate`` requests per second on average, bursts of ``burst``.

A client is its API-key identity, or its address when the server has no key. The table of buckets
is bounded: the least recently seen client is forgotten first (it then starts with a full bucket,
which is the generous mistake to make). Hand-written because it is a dozen lines and lives on the
event loop; slowapi and friends bring storage back-ends this server does not need.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate must be positive, burst and max_clients at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, client: str) -> float:
        """Take one token for ``client``: 0.0 when allowed, else seconds until one is free."""
        now = self._clock()
        bucket = self._buckets.pop(client, None) or _Bucket(tokens=float(self.burst), updated=now)
        self._buckets[client] = bucket
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    @staticmethod
    def retry_after_header(wait_s: float) -> str:
        """Retry-After is whole seconds (RFC 9110 §10.2.3); never 0 for a refusal."""
        return str(max(1, math.ceil(wait_s)))
