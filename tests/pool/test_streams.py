"""The pool's ``stream_generate``, sync and async, on fake providers: only streaming providers
are candidates; fallback until the first chunk reached the caller, never after it."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import numpy as np
import pytest

from tests.pool.fakes import FakeNet, FakeProvider, refuse, stream_answer, unreachable
from voicebox_api import (
    AsyncProviderPool,
    BreakerPolicy,
    BrokenStreamError,
    NoProviderError,
    ProviderPool,
    StreamAudio,
    StreamChunk,
    StreamEnd,
    StreamHeader,
    audio_frame,
    encode_response,
    header_frame,
)

PROMPT_A = {"engine": "fake-a", "id": 1}
Break = Callable[[httpx.Request], httpx.Response | None]


def on_generate(answer: Callable[[httpx.Request], httpx.Response]) -> Break:
    def fail(request: httpx.Request) -> httpx.Response | None:
        return answer(request) if request.url.path.endswith("/v1/generate") else None

    return fail


def cut_after_first_audio(request: httpx.Request) -> httpx.Response:
    first = audio_frame(np.full(1200, 0.1, dtype=np.float32), "float32")
    return stream_answer(header_frame(24_000, "float32"), first, httpx.ReadError("reset"))


def json_instead(request: httpx.Request) -> httpx.Response:
    samples = np.full(2400, 0.1, dtype=np.float32)
    return httpx.Response(200, json=encode_response(samples, 24_000).model_dump())


def pool_of(net: FakeNet, **options: Any) -> ProviderPool:
    return ProviderPool(net.config(), transport=net.transport(), rng=random.Random(1), **options)


def collect(stream: Iterator[StreamChunk], into: list[StreamChunk]) -> None:
    for chunk in stream:
        into.append(chunk)


async def acollect(stream: AsyncIterator[StreamChunk], into: list[StreamChunk]) -> None:
    async for chunk in stream:
        into.append(chunk)


def kinds(chunks: list[StreamChunk]) -> list[str]:
    return [type(chunk).__name__ for chunk in chunks]


def test_a_stream_goes_to_the_streaming_provider_and_counts_its_audio() -> None:
    plain, streaming = FakeProvider("a.test"), FakeProvider("b.test", streaming=True)
    with pool_of(FakeNet(plain, streaming)) as pool:
        chunks = list(pool.stream_generate("Hello there.", PROMPT_A))  # polls both first
        usage = pool.usage.snapshot()
        assert [s.outstanding for s in pool.status()] == [0, 0]
    assert kinds(chunks) == ["StreamHeader", "StreamAudio", "StreamAudio", "StreamEnd"]
    assert sum(c.num_samples for c in chunks if isinstance(c, StreamAudio)) == 2400
    assert (len(plain.generates()), len(streaming.generates())) == (0, 1)
    assert (usage["b.test"].requests, usage["b.test"].errors) == (1, 0)
    assert usage["b.test"].audio_seconds == pytest.approx(0.1)
    assert "a.test" not in usage


@pytest.mark.parametrize(
    "failure",
    [
        refuse(503),
        unreachable,
        on_generate(json_instead),
        on_generate(lambda r: stream_answer(b"H\x05\x00")),
    ],
    ids=["503", "unreachable", "json-not-a-stream", "cut-before-the-header"],
)
def test_a_stream_falls_back_before_its_first_chunk(failure: Break) -> None:
    broken = FakeProvider("a.test", streaming=True)
    good = FakeProvider("b.test", streaming=True)
    with pool_of(FakeNet(broken, good), policy="round_robin") as pool:
        pool.poll_health()
        broken.fail = failure  # after the poll: a.test is a candidate, tried first
        chunks = list(pool.stream_generate("Hello there.", PROMPT_A))
        usage = pool.usage.snapshot()
    assert kinds(chunks)[0] == "StreamHeader"
    assert isinstance(chunks[-1], StreamEnd)
    assert len(good.generates()) == 1
    assert (usage["a.test"].errors, usage["b.test"].ok) == (1, 1)
    assert usage["b.test"].audio_seconds == pytest.approx(0.1)


def test_a_stream_that_broke_after_its_first_chunk_is_not_resent() -> None:
    broken = FakeProvider("a.test", streaming=True, fail=on_generate(cut_after_first_audio))
    good = FakeProvider("b.test", streaming=True)
    received: list[StreamChunk] = []
    breaker = BreakerPolicy(failure_threshold=1)
    with pool_of(FakeNet(broken, good), policy="round_robin", breaker=breaker) as pool:
        pool.poll_health()
        with pytest.raises(BrokenStreamError) as caught:
            collect(pool.stream_generate("Hello there.", PROMPT_A), received)
        usage = pool.usage.snapshot()
        statuses = pool.status()
    assert kinds(received) == ["StreamHeader", "StreamAudio"]
    assert caught.value.samples_received == 1200
    assert (len(broken.generates()), len(good.generates())) == (1, 0)
    assert (usage["a.test"].requests, usage["a.test"].errors) == (1, 1)
    assert "b.test" not in usage
    assert [s.outstanding for s in statuses] == [0, 0]
    assert [s.breaker for s in statuses] == ["open", "closed"]  # the provider's fault


def test_without_a_streaming_provider_a_stream_is_a_clear_error() -> None:
    plain = FakeProvider("a.test")
    with pool_of(FakeNet(plain)) as pool:
        with pytest.raises(NoProviderError, match=r"capabilities.streaming.*no streaming declared"):
            list(pool.stream_generate("Hello there.", PROMPT_A))
        assert pool.generate("Hello there.", PROMPT_A).provider == "a.test"
    assert len(plain.generates()) == 1  # the stream sent nothing


def test_a_stream_closed_early_frees_its_provider() -> None:
    with pool_of(FakeNet(FakeProvider("b.test", streaming=True))) as pool:
        stream = pool.stream_generate("Hello there.", PROMPT_A)
        assert isinstance(next(iter(stream)), StreamHeader)
        assert pool.status()[0].outstanding == 1
        stream.close()  # type: ignore[attr-defined]
        assert pool.status()[0].outstanding == 0
        assert pool.usage.snapshot() == {}  # neither a success nor an error


def test_the_async_pool_streams_with_the_same_rules() -> None:
    broken = FakeProvider("a.test", streaming=True, fail=refuse(503))
    good = FakeProvider("b.test", streaming=True)
    plain = FakeProvider("c.test")
    net = FakeNet(broken, good, plain)

    async def main() -> tuple[list[StreamChunk], list[StreamChunk]]:
        async with AsyncProviderPool(
            net.config(), transport=httpx.MockTransport(net), policy="round_robin"
        ) as pool:
            fallen_back = [c async for c in pool.stream_generate("Hello there.", PROMPT_A)]
            broken.fail = on_generate(cut_after_first_audio)
            good.fail = on_generate(cut_after_first_audio)
            cut: list[StreamChunk] = []
            with pytest.raises(BrokenStreamError):
                await acollect(pool.stream_generate("Hello again.", PROMPT_A), cut)
            return fallen_back, cut

    fallen_back, cut = anyio.run(main)
    assert isinstance(fallen_back[-1], StreamEnd)
    assert kinds(cut) == ["StreamHeader", "StreamAudio"]
    assert len(broken.generates()) + len(good.generates()) == 3  # 2 for the first, 1 for the cut
    assert plain.generates() == []
