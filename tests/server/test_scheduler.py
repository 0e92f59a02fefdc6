"""The scheduler: bounded, batching by key within a window, one caller per backend instance."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import pytest

from reference_server.scheduler import JobStats, QueueFullError, Scheduler, SchedulerClosedError


class BatchRecorder:
    """A fake batching backend: records every batch and checks nobody calls it concurrently."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[list[Any]] = []
        self.delay_s = delay_s
        self.gate = threading.Event()
        self.gate.set()
        self.overlaps = 0
        self._busy = threading.Lock()

    def run(self, payloads: Sequence[Any]) -> list[Any]:
        if not self._busy.acquire(blocking=False):
            self.overlaps += 1
            self._busy.acquire()
        try:
            self.batches.append(list(payloads))
            self.gate.wait(10)
            if self.delay_s:
                time.sleep(self.delay_s)
            for payload in payloads:
                if payload == "fail":
                    raise ValueError("this job is bad")
            return [f"done:{payload}" for payload in payloads]
        finally:
            self._busy.release()


def _run(backend: BatchRecorder, payloads: list[Any]) -> list[Any]:
    return backend.run(payloads)


def _other_run(backend: BatchRecorder, payloads: list[Any]) -> list[Any]:
    return backend.run(payloads)


async def _until(happened: Callable[[], bool], timeout_s: float = 10) -> None:
    """Wait for an event rather than for a guess at how long it takes."""
    async with asyncio.timeout(timeout_s):
        while not happened():
            await asyncio.sleep(0.005)


def _scheduler(backends: Sequence[BatchRecorder], **kwargs: Any) -> Scheduler[BatchRecorder]:
    scheduler = Scheduler(backends, **{"queue_size": 16, **kwargs})
    scheduler.start()
    return scheduler


async def _submit_all(
    scheduler: Scheduler[BatchRecorder], jobs: Sequence[tuple[Any, Hashable | None]]
) -> list[tuple[Any, JobStats]]:
    tasks = [
        asyncio.ensure_future(scheduler.submit(payload, _run, key=key)) for payload, key in jobs
    ]
    return list(await asyncio.gather(*tasks))


def test_jobs_arriving_within_the_window_share_a_batch() -> None:
    backend = BatchRecorder()
    scheduler = _scheduler([backend], max_batch_size=8, batch_window_s=0.2)
    results = asyncio.run(_submit_all(scheduler, [(i, "en") for i in range(5)]))
    assert [result for result, _ in results] == [f"done:{i}" for i in range(5)]
    assert backend.batches == [[0, 1, 2, 3, 4]]
    assert all(stats.batch_size == 5 for _, stats in results)
    assert scheduler.close(5)


def test_batches_never_exceed_the_maximum() -> None:
    backend = BatchRecorder()
    scheduler = _scheduler([backend], max_batch_size=3, batch_window_s=0.2)
    asyncio.run(_submit_all(scheduler, [(i, "en") for i in range(7)]))
    assert [len(batch) for batch in backend.batches] == [3, 3, 1]
    assert sorted(p for batch in backend.batches for p in batch) == list(range(7))
    scheduler.close(5)


def test_only_jobs_with_the_same_key_share_a_batch() -> None:
    backend = BatchRecorder()
    scheduler = _scheduler([backend], max_batch_size=8, batch_window_s=0.2)
    jobs = [("en1", "en"), ("de1", "de"), ("en2", "en"), ("solo", None), ("de2", "de")]
    asyncio.run(_submit_all(scheduler, jobs))
    assert sorted(sorted(batch) for batch in backend.batches) == [
        ["de1", "de2"],
        ["en1", "en2"],
        ["solo"],
    ]
    scheduler.close(5)


def test_different_run_functions_never_share_a_batch() -> None:
    backend = BatchRecorder()
    scheduler = _scheduler([backend], max_batch_size=8, batch_window_s=0.2)

    async def main() -> None:
        await asyncio.gather(
            scheduler.submit("a", _run, key="k"), scheduler.submit("b", _other_run, key="k")
        )

    asyncio.run(main())
    assert sorted(backend.batches) == [["a"], ["b"]]
    scheduler.close(5)


def test_without_batching_each_job_runs_alone() -> None:
    backend = BatchRecorder()
    scheduler = _scheduler([backend], max_batch_size=1, batch_window_s=0.2)
    asyncio.run(_submit_all(scheduler, [(i, "en") for i in range(4)]))
    assert backend.batches == [[0], [1], [2], [3]]
    scheduler.close(5)


def test_a_full_batch_starts_at_once_without_waiting_for_the_window() -> None:
    backend = BatchRecorder()
    backend.gate.clear()
    # A window of an hour: if a full batch waited for it, the test would time out.
    scheduler = _scheduler([backend], max_batch_size=4, batch_window_s=3600)

    async def main() -> None:
        first = [asyncio.ensure_future(scheduler.submit(i, _run, key="k")) for i in range(4)]
        while not backend.batches:
            await asyncio.sleep(0.005)
        # These queue up behind the running batch, as they would under load.
        second = [asyncio.ensure_future(scheduler.submit(i, _run, key="k")) for i in range(4, 8)]
        await _until(lambda: scheduler.depth == 4)
        backend.gate.set()
        await asyncio.wait_for(asyncio.gather(*first, *second), 10)

    asyncio.run(main())
    assert backend.batches == [[0, 1, 2, 3], [4, 5, 6, 7]]
    scheduler.close(5)


def test_full_queue_refuses_with_a_retry_after() -> None:
    backend = BatchRecorder()
    backend.gate.clear()
    scheduler = _scheduler([backend], queue_size=2)

    async def main() -> None:
        running = asyncio.ensure_future(scheduler.submit("running", _run))
        while not backend.batches:
            await asyncio.sleep(0.005)
        queued = [asyncio.ensure_future(scheduler.submit(i, _run)) for i in range(2)]
        await _until(lambda: scheduler.depth == 2)
        with pytest.raises(QueueFullError) as refused:
            await scheduler.submit("one too many", _run)
        assert refused.value.retry_after_s >= 1
        backend.gate.set()
        await asyncio.gather(running, *queued)

    asyncio.run(main())
    scheduler.close(5)


def test_a_timed_out_job_is_dropped_before_it_runs() -> None:
    backend = BatchRecorder()
    backend.gate.clear()
    scheduler = _scheduler([backend])

    async def main() -> None:
        running = asyncio.ensure_future(scheduler.submit("running", _run))
        while not backend.batches:
            await asyncio.sleep(0.005)
        with pytest.raises(TimeoutError):
            await scheduler.submit("late", _run, timeout_s=0.05)
        assert scheduler.depth == 0
        backend.gate.set()
        await running

    asyncio.run(main())
    scheduler.close(5)
    assert backend.batches == [["running"]]


def test_a_failing_job_in_a_batch_fails_alone() -> None:
    backend = BatchRecorder()
    scheduler = _scheduler([backend], max_batch_size=4, batch_window_s=0.2)

    async def main() -> list[Any]:
        tasks = [scheduler.submit(p, _run, key="k") for p in ("a", "fail", "b")]
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    results = asyncio.run(main())
    assert results[0][0] == "done:a"
    assert isinstance(results[1], ValueError)
    assert results[2][0] == "done:b"
    assert backend.batches[0] == ["a", "fail", "b"]
    scheduler.close(5)


def test_each_backend_instance_is_called_by_one_worker_at_a_time() -> None:
    backends = [BatchRecorder(delay_s=0.01), BatchRecorder(delay_s=0.01)]
    scheduler = _scheduler(backends, queue_size=64)
    asyncio.run(_submit_all(scheduler, [(i, None) for i in range(20)]))
    assert all(backend.overlaps == 0 for backend in backends)
    assert sum(len(backend.batches) for backend in backends) == 20
    assert all(backend.batches for backend in backends)  # both workers took part
    scheduler.close(5)


def test_close_finishes_queued_jobs_then_refuses_new_ones() -> None:
    backend = BatchRecorder(delay_s=0.02)
    scheduler = _scheduler([backend])

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(scheduler.submit(i, _run)) for i in range(3)]
        await asyncio.sleep(0.005)
        closed = asyncio.ensure_future(asyncio.to_thread(scheduler.close, 5))
        results = await asyncio.gather(*tasks)
        assert await closed
        with pytest.raises(SchedulerClosedError):
            await scheduler.submit("late", _run)
        return [result for result, _ in results]

    assert asyncio.run(main()) == ["done:0", "done:1", "done:2"]


def test_submit_before_start_is_refused() -> None:
    scheduler: Scheduler[BatchRecorder] = Scheduler([BatchRecorder()], queue_size=1)
    with pytest.raises(SchedulerClosedError):
        asyncio.run(scheduler.submit("x", _run))


def test_stats_measure_queue_and_inference_time() -> None:
    backend = BatchRecorder(delay_s=0.05)
    scheduler = _scheduler([backend])
    results = asyncio.run(_submit_all(scheduler, [("a", None), ("b", None)]))
    first, second = (stats for _, stats in results)
    assert first.inference_s >= 0.05
    assert second.queue_s >= 0.04  # it waited for the first
    scheduler.close(5)
