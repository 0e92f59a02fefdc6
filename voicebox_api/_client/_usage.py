"""What a pool (or any caller) spent at each provider: requests, errors, audio generated.

``UsageMeter`` is thread-safe and cheap (one lock, a few additions per request), so the pool
records every attempt. ``cost_per_audio_hour`` is the arithmetic the reports use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ProviderUsage", "UsageMeter", "cost_per_audio_hour"]


@dataclass(frozen=True)
class ProviderUsage:
    requests: int = 0
    """Attempts sent to the provider (each fallback attempt counts where it went)."""
    errors: int = 0
    audio_seconds: float = 0.0
    """Seconds of audio the provider returned."""
    busy_seconds: float = 0.0
    """Wall time of its successful generations, summed (concurrent ones overlap)."""

    @property
    def ok(self) -> int:
        return self.requests - self.errors


@dataclass
class _Tally:
    requests: int = 0
    errors: int = 0
    audio_seconds: float = 0.0
    busy_seconds: float = 0.0

    def frozen(self) -> ProviderUsage:
        return ProviderUsage(self.requests, self.errors, self.audio_seconds, self.busy_seconds)


@dataclass
class UsageMeter:
    """Per-provider counters; ``snapshot()`` returns an immutable copy."""

    _tallies: dict[str, _Tally] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record_success(self, provider: str, audio_seconds: float, elapsed_s: float) -> None:
        with self._lock:
            tally = self._tallies.setdefault(provider, _Tally())
            tally.requests += 1
            tally.audio_seconds += audio_seconds
            tally.busy_seconds += elapsed_s

    def record_error(self, provider: str) -> None:
        with self._lock:
            tally = self._tallies.setdefault(provider, _Tally())
            tally.requests += 1
            tally.errors += 1

    def snapshot(self) -> Mapping[str, ProviderUsage]:
        with self._lock:
            return {name: tally.frozen() for name, tally in self._tallies.items()}

    def total(self) -> ProviderUsage:
        usages = self.snapshot().values()
        return ProviderUsage(
            sum(u.requests for u in usages),
            sum(u.errors for u in usages),
            sum(u.audio_seconds for u in usages),
            sum(u.busy_seconds for u in usages),
        )


def cost_per_audio_hour(price_per_hour: float, audio_seconds_per_second: float) -> float:
    """Dollars per hour of generated audio on a machine rented at ``price_per_hour``.

    A machine sustaining ``r`` audio-seconds per wall-second makes ``r`` audio-hours per hour,
    so one audio-hour costs ``price / r``. Zero throughput costs infinitely much.
    """
    if price_per_hour < 0:
        raise ValueError(f"a price cannot be negative: {price_per_hour}")
    if audio_seconds_per_second <= 0:
        return float("inf")
    return price_per_hour / audio_seconds_per_second
