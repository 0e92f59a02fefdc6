"""Background ``/health`` polling with backoff: a schedule, and a thread or a task that runs it.

A provider that answers is polled again after ``interval_s`` (±10 % jitter, so that pools
started together do not poll in step); one that fails (cannot be reached, or answers with no
health body) is polled after twice its last interval, up to ``max_interval_s``, and returns to
``interval_s`` at its first good answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["AsyncHealthMonitor", "HealthMonitor", "PollSchedule"]

logger = logging.getLogger("voicebox_api._client.health")

_JITTER = 0.1


class PollSchedule:
    def __init__(
        self,
        names: Iterable[str],
        interval_s: float,
        max_interval_s: float,
        rng: random.Random | None = None,
        now: float = 0.0,
    ) -> None:
        if interval_s <= 0 or max_interval_s < interval_s:
            raise ValueError("need 0 < interval_s <= max_interval_s")
        self.interval_s = interval_s
        self.max_interval_s = max_interval_s
        self._rng = rng or random.Random()
        self._next: dict[str, float] = {name: now for name in names}
        self.current: dict[str, float] = dict.fromkeys(self._next, interval_s)

    def due(self, now: float) -> list[str]:
        return [name for name, when in self._next.items() if when <= now]

    def wait_s(self, now: float) -> float:
        return max(0.0, min(self._next.values(), default=now + self.interval_s) - now)

    def done(self, name: str, ok: bool, now: float) -> None:
        previous = self.current[name]
        interval = self.interval_s if ok else min(previous * 2, self.max_interval_s)
        self.current[name] = interval
        self._next[name] = now + interval * self._rng.uniform(1 - _JITTER, 1 + _JITTER)


class HealthMonitor:
    """Polls in a daemon thread; ``poll(name)`` returns whether the provider answered."""

    def __init__(self, schedule: PollSchedule, poll: Callable[[str], bool]) -> None:
        self._schedule = schedule
        self._poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voicebox-health", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name in self._schedule.due(time.monotonic()):
                if self._stop.is_set():
                    return
                try:
                    ok = self._poll(name)
                except Exception:  # a bug in one poll must not end the polling
                    logger.exception("polling %s failed", name)
                    ok = False
                self._schedule.done(name, ok, time.monotonic())
            self._stop.wait(self._schedule.wait_s(time.monotonic()))


class AsyncHealthMonitor:
    """Polls in an asyncio task, for the asynchronous pool."""

    def __init__(self, schedule: PollSchedule, poll: Callable[[str], Awaitable[bool]]) -> None:
        self._schedule = schedule
        self._poll = poll
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for name in self._schedule.due(loop.time()):
                try:
                    ok = await self._poll(name)
                except Exception:  # a bug in one poll must not end the polling
                    logger.exception("polling %s failed", name)
                    ok = False
                self._schedule.done(name, ok, loop.time())
            await asyncio.sleep(self._schedule.wait_s(loop.time()))
