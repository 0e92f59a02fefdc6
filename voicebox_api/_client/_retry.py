"""When to try a request again, and how long to wait first (SPEC.md Appendix B).

Only what cannot have reached the provider's application is retried: a failed connection, and
a 429 or 503 answer (the provider refused the work and said so). A read timeout, a broken
connection after sending, or any other status is final, because the provider may have acted
on the request.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

import httpx

from voicebox_api._retry_after import parse_retry_after

__all__ = ["NO_RETRY", "RETRYABLE_STATUSES", "RetryPolicy", "RetrySchedule"]

RETRYABLE_STATUSES: Final = frozenset({429, 503})
_NEVER_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total sleep.

    Before retry ``n`` (1-based) the client sleeps ``uniform(0, min(max_delay, base_delay *
    2**(n-1)))``, added to the provider's ``Retry-After`` when it sent one: never sooner than
    asked, and clients refused together do not all come back in the same instant. A retry whose
    sleep would take the total past ``max_total_delay`` is not made: the last error is raised.
    """

    max_attempts: int = 4
    """Attempts in all, the first included; 1 means never retry."""
    base_delay: float = 0.5
    max_delay: float = 10.0
    max_total_delay: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        for name in ("base_delay", "max_delay", "max_total_delay"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value}")

    def backoff(self, retry: int, uniform: Callable[[float, float], float]) -> float:
        """The jittered delay before retry number ``retry`` (1-based), without Retry-After."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return uniform(0.0, ceiling)


NO_RETRY: Final = RetryPolicy(max_attempts=1)


Outcome = httpx.Response | httpx.RequestError


class RetrySchedule:
    """The retry state of one logical request: counts attempts and sleeps."""

    def __init__(
        self,
        policy: RetryPolicy,
        statuses: Collection[int] = RETRYABLE_STATUSES,
        rng: random.Random | None = None,
    ) -> None:
        self._policy = policy
        self._statuses = statuses
        self._uniform = (rng or random.Random()).uniform
        self.attempts = 0
        self.slept = 0.0

    def start_attempt(self) -> int:
        self.attempts += 1
        return self.attempts

    def delay_after(self, outcome: Outcome) -> float | None:
        """How long to sleep before the next attempt, or None when ``outcome`` is final."""
        if self.attempts >= self._policy.max_attempts or not self._is_retryable(outcome):
            return None
        delay = self._policy.backoff(self.attempts, self._uniform)
        if isinstance(outcome, httpx.Response):
            retry_after = parse_retry_after(outcome.headers.get("retry-after"))
            delay += retry_after or 0.0
        if self.slept + delay > self._policy.max_total_delay:
            return None
        self.slept += delay
        return delay

    def _is_retryable(self, outcome: Outcome) -> bool:
        if isinstance(outcome, httpx.Response):
            return outcome.status_code in self._statuses
        return isinstance(outcome, _NEVER_SENT)
