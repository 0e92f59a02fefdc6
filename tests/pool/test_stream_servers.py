"""Streams through the pool and the connection test against real espeak reference servers
(the espeak backend streams sentence by sentence). Slow: each test starts servers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from conformance.engine.references import reference_voices
from orchestration.processes import ReferenceServerProcess
from voicebox_api import (
    PoolConfig,
    ProviderPool,
    ProviderSpec,
    Settings,
    StreamAudio,
    StreamEnd,
    StreamHeader,
)
from voicebox_api.ping import ping

pytestmark = pytest.mark.slow

ESPEAK_ARGS = ("--backend", "espeak", "--whisper", "none", "--cache-bytes", "0")


@contextlib.contextmanager
def espeak_servers(count: int) -> Iterator[list[ReferenceServerProcess]]:
    processes = [ReferenceServerProcess(*ESPEAK_ARGS) for _ in range(count)]
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(count) as starter:
        for process in starter.map(stack.enter_context, processes):
            assert process.base_url
        yield processes


def test_a_stream_is_served_by_the_survivor_of_two_espeak_servers() -> None:
    clip, _ = reference_voices()
    with espeak_servers(2) as (doomed, survivor):
        specs = (ProviderSpec(doomed.base_url, name="a"), ProviderSpec(survivor.base_url, name="b"))
        settings = Settings(connect_timeout=1.0, read_timeout=30.0)
        config = PoolConfig(specs, max_attempts=2, health_interval_s=None, settings=settings)
        with ProviderPool(config, policy="round_robin") as pool:
            pool.poll_health()
            assert all(status.health == "healthy" for status in pool.status())
            prompt = pool.create_voice_prompt(clip.audio_bytes, clip.text).voice_prompt
            doomed.process.kill()
            doomed.process.wait(timeout=30)
            streams = [
                list(pool.stream_generate(f"Hello there. This is stream {i}.", prompt))
                for i in range(2)  # round robin: one of the two starts at the dead server
            ]
            usage = pool.usage.snapshot()
    for chunks in streams:
        assert isinstance(chunks[0], StreamHeader)
        assert isinstance(chunks[-1], StreamEnd)
        samples = sum(c.num_samples for c in chunks if isinstance(c, StreamAudio))
        assert samples == chunks[-1].total_samples > 0
    assert usage["a"].errors == 1  # the stream that went there first, before any chunk
    assert (usage["b"].requests, usage["b"].errors) == (2, 0)
    assert usage["b"].audio_seconds > 1.0


def test_the_connection_test_reports_time_to_first_packet_from_espeak() -> None:
    with espeak_servers(1) as (server,):
        report = ping(server.base_url, budget_s=30.0)  # the budget allows a contended machine
    assert report.verdict == "ok", report.detail
    assert report.ttfp_ms is not None, report.ttfp_note
    assert report.generation is not None
    assert report.ttfp_ms > 0
