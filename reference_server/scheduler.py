"""A bounded queue in front of inference worker threads, with dynamic batching.

Request handlers ``await submit(...)``; worker threads take jobs off a bounded FIFO and run them
on their own backend instance, so the event loop never waits for inference and each backend
instance is only ever called from one thread (``backends/base.py``).

Batching: a worker that takes a job with a batch key waits up to ``batch_window_s`` for more jobs
with the same key (and the same run function), up to ``max_batch_size``, and runs them in one
call. Jobs already waiting are taken at once, so under load batches fill without waiting.

Hand-written rather than built on ``concurrent.futures``: an executor has no bound on its queue,
no way to look at what waits, and no batching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "BatchObserver",
    "JobStats",
    "QueueFullError",
    "Scheduler",
    "SchedulerClosedError",
]

logger = logging.getLogger(__name__)

B = TypeVar("B")
P = TypeVar("P")
R = TypeVar("R")

_MAX_RETRY_AFTER_S = 60


class QueueFullError(Exception):
    """The queue holds ``queue_size`` jobs; the caller should answer 503 with Retry-After."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("the inference queue is full")
        self.retry_after_s = retry_after_s


class SchedulerClosedError(Exception):
    """The scheduler is shutting down or has not started."""


@dataclass(frozen=True)
class JobStats:
    """Where a job's time went: waiting in the queue, and the batch call that served it."""

    queue_s: float
    inference_s: float
    batch_size: int


class BatchObserver(Protocol):
    def batch_done(self, size: int, seconds: float) -> None: ...


@dataclass(eq=False)
class _Item:
    payload: Any
    run: Callable[[Any, list[Any]], Sequence[Any]]
    key: Hashable | None
    future: asyncio.Future[tuple[Any, JobStats]]
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.monotonic)
    abandoned: bool = False

    def batches_with(self, other: _Item) -> bool:
        return self.key is not None and other.key == self.key and other.run is self.run


class Scheduler(Generic[B]):
    """Run jobs on ``backends`` (one worker thread per instance) through a bounded queue."""

    def __init__(
        self,
        backends: Sequence[B],
        *,
        queue_size: int,
        max_batch_size: int = 1,
        batch_window_s: float = 0.0,
        name: str = "inference",
        observer: BatchObserver | None = None,
    ) -> None:
        if not backends:
            raise ValueError("a scheduler needs at least one backend instance")
        if queue_size < 1 or max_batch_size < 1 or batch_window_s < 0:
            raise ValueError("queue_size and max_batch_size must be >= 1, the window >= 0")
        self._backends = list(backends)
        self._queue_size = queue_size
        self._max_batch = max_batch_size
        self._window = batch_window_s
        self._name = name
        self._observer = observer
        self._pending: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._started = False
        self._running = 0
        self._threads: list[threading.Thread] = []
        self._batch_seconds = 0.0

    # --- state --------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Jobs waiting for a worker."""
        return len(self._pending)

    @property
    def running(self) -> int:
        """Jobs a worker is running now."""
        return self._running

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_batch_size(self) -> int:
        return self._max_batch

    @property
    def workers(self) -> int:
        return len(self._backends)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        with self._cond:
            if self._started:
                return
            self._started = True
        for index, backend in enumerate(self._backends):
            thread = threading.Thread(
                target=self._work, args=(backend,), name=f"{self._name}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def close(self, timeout_s: float = 30.0) -> bool:
        """Refuse new jobs, let the workers finish what is queued, and wait for them.

        Blocking (call it from a thread). Jobs still queued after ``timeout_s`` fail with
        SchedulerClosedError. Returns whether every worker finished in time.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        finished = not any(thread.is_alive() for thread in self._threads)
        with self._cond:
            leftovers = list(self._pending)
            self._pending.clear()
        for item in leftovers:
            _fail(item, SchedulerClosedError("the server shut down before this job ran"))
        return finished

    # --- submitting -----------------------------------------------------------------------------

    async def submit(
        self,
        payload: P,
        run: Callable[[B, list[P]], Sequence[R]],
        *,
        key: Hashable | None = None,
        timeout_s: float | None = None,
    ) -> tuple[R, JobStats]:
        """Queue one job and wait for its result.

        ``run(backend, payloads)`` is called on a worker thread with one or more payloads that
        share ``key`` (None: never batched) and returns one result per payload, in order.
        Raises QueueFullError, SchedulerClosedError, TimeoutError (the job is dropped if it has
        not started), or whatever ``run`` raised for this job.
        """
        loop = asyncio.get_running_loop()
        item = _Item(payload=payload, run=run, key=key, future=loop.create_future(), loop=loop)
        with self._cond:
            if self._closed or not self._started:
                raise SchedulerClosedError("the server is not accepting inference jobs")
            if len(self._pending) >= self._queue_size:
                raise QueueFullError(self.retry_after_s())
            self._pending.append(item)
            self._cond.notify_all()
        try:
            result, stats = await asyncio.wait_for(item.future, timeout_s)
        except BaseException:
            self._abandon(item)
            raise
        return result, stats

    def _abandon(self, item: _Item) -> None:
        with self._cond:
            item.abandoned = True
            with contextlib.suppress(ValueError):  # a worker has it already
                self._pending.remove(item)

    def retry_after_s(self) -> int:
        """Whole seconds until the queue, as it stands, is likely to have room."""
        per_batch = self._batch_seconds or 1.0
        batches = math.ceil((len(self._pending) + 1) / self._max_batch)
        estimate = per_batch * batches / len(self._backends)
        return max(1, min(_MAX_RETRY_AFTER_S, math.ceil(estimate)))

    # --- workers --------------------------------------------------------------------------------

    def _work(self, backend: B) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._execute(backend, batch)
            finally:
                with self._cond:
                    self._running -= len(batch)

    def _next_batch(self) -> list[_Item] | None:
        with self._cond:
            while not self._pending:
                if self._closed:
                    return None
                self._cond.wait()
            first = self._pending.popleft()
            batch = [first]
            if first.key is not None and self._max_batch > 1:
                self._gather(first, batch)
            self._running += len(batch)
            return batch

    def _gather(self, first: _Item, batch: list[_Item]) -> None:
        """Add queued jobs that may share ``first``'s batch, waiting up to the window."""
        deadline = time.monotonic() + self._window
        while True:
            for item in [item for item in self._pending if first.batches_with(item)]:
                if len(batch) >= self._max_batch:
                    break
                self._pending.remove(item)
                batch.append(item)
            remaining = deadline - time.monotonic()
            if len(batch) >= self._max_batch or self._closed or remaining <= 0:
                return
            self._cond.wait(remaining)

    def _execute(self, backend: B, batch: list[_Item]) -> None:
        live = [item for item in batch if not item.abandoned]
        if not live:
            return
        started = time.monotonic()
        try:
            results = list(live[0].run(backend, [item.payload for item in live]))
            if len(results) != len(live):
                raise RuntimeError(f"backend returned {len(results)} results for {len(live)} jobs")
        except Exception as exc:
            if len(live) == 1:
                _fail(live[0], exc)
            else:
                logger.warning("a batch of %d failed; running its jobs one by one", len(live))
                for item in live:
                    self._execute(backend, [item])
            return
        seconds = time.monotonic() - started
        self._batch_seconds = (
            0.8 * self._batch_seconds + 0.2 * seconds if self._batch_seconds else seconds
        )
        if self._observer is not None:
            self._observer.batch_done(len(live), seconds)
        for item, result in zip(live, results, strict=True):
            stats = JobStats(
                queue_s=started - item.enqueued, inference_s=seconds, batch_size=len(live)
            )
            _resolve(item, (result, stats))


def _resolve(item: _Item, value: tuple[Any, JobStats]) -> None:
    def settle() -> None:
        if not item.future.done():
            item.future.set_result(value)

    _call_soon(item, settle)


def _fail(item: _Item, error: BaseException) -> None:
    def settle() -> None:
        if not item.future.done():
            item.future.set_exception(error)

    _call_soon(item, settle)


def _call_soon(item: _Item, callback: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        item.loop.call_soon_threadsafe(callback)
