"""A circuit breaker per provider: consecutive failures open it, a single probe closes it.

::

    closed ──(threshold consecutive failures)──> open ──(cool-down over)──> half-open
      ^                                           ^                          │
      └───────────(the probe succeeds)────────────┼──────────────────────────┤
                                                  └──(the probe fails; the cool-down doubles)

Failures are what says the provider itself is in trouble: a connect error or timeout, a broken
connection, a 5xx. A 4xx is the request's fault and counts as neither. While open, the breaker
lets nothing through; once the cool-down is over it lets exactly one request (or health poll)
through as the probe. Thread-safe; the clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["BreakerPolicy", "BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 3
    """Consecutive failures that open the breaker."""
    open_s: float = 2.0
    """First cool-down; each failed probe doubles it, up to ``max_open_s``."""
    max_open_s: float = 60.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.open_s <= 0 or self.max_open_s < self.open_s:
            raise ValueError("need failure_threshold >= 1 and 0 < open_s <= max_open_s")


class CircuitBreaker:
    def __init__(
        self, policy: BreakerPolicy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._cooldown = self.policy.open_s
        self._opened_at = 0.0
        self._probing = False
        self.opened_count = 0
        """How many times the breaker has opened (closed or half-open to open)."""

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._advance()
            return self._state

    def allows(self) -> bool:
        """Whether a request may go now, without claiming the half-open probe."""
        with self._lock:
            self._advance()
            return self._state == "closed" or (self._state == "half_open" and not self._probing)

    def acquire(self) -> bool:
        """Claim the right to send: always when closed, once per half-open period."""
        with self._lock:
            self._advance()
            if self._state == "closed":
                return True
            if self._state == "half_open" and not self._probing:
                self._probing = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._state = "closed"
            self._failures = 0
            self._cooldown = self.policy.open_s
            self._probing = False

    def record_failure(self) -> None:
        with self._lock:
            self._advance()
            if self._state == "half_open":
                self._cooldown = min(self._cooldown * 2, self.policy.max_open_s)
                self._open()
                return
            self._failures += 1
            if self._state == "closed" and self._failures >= self.policy.failure_threshold:
                self._open()

    def release(self) -> None:
        """The claimed request ended with neither verdict (a 4xx): free the probe slot."""
        with self._lock:
            self._probing = False

    def _open(self) -> None:
        self._state = "open"
        self._opened_at = self._clock()
        self._probing = False
        self.opened_count += 1

    def _advance(self) -> None:
        if self._state == "open" and self._clock() - self._opened_at >= self._cooldown:
            self._state = "half_open"
            self._probing = False
