"""``stream_generate``, sync and async: typed chunks; retries only before the first byte; a
stream that breaks afterwards is a BrokenStreamError naming the clause, never a short clip."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import numpy as np
import pytest

from tests.client.conftest import SAMPLES, Variant, json_response, settings
from voicebox_api import (
    STREAM_MEDIA_TYPE,
    AsyncProviderClient,
    BrokenStreamError,
    ProviderClient,
    RetryPolicy,
    StreamAudio,
    StreamEnd,
    StreamHeader,
    UnavailableError,
    audio_frame,
    end_frame,
    error_frame,
    header_frame,
)

HEADER = header_frame(24000, "float32")
AUDIO = [audio_frame(piece, "float32") for piece in np.split(SAMPLES, [800, 1600])]
END = end_frame(SAMPLES.size)


class Pieces(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that arrives in pieces and may break off with a transport error."""

    def __init__(self, *pieces: bytes | Exception) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            if isinstance(piece, Exception):
                raise piece
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.__iter__():
            yield piece


class Script:
    def __init__(self, *answers: httpx.Response | Exception | Pieces) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, Pieces):
            return httpx.Response(200, headers={"content-type": STREAM_MEDIA_TYPE}, stream=answer)
        return answer


def collect(variant: Variant, script: Script) -> list[Any]:
    options: dict[str, Any] = {
        "settings": settings(),
        "transport": httpx.MockTransport(script),
        "retry": RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01),
    }
    if variant == "sync":
        with ProviderClient(sleep=lambda _: None, **options) as client:
            return list(client.stream_generate("Hi.", {}, seed=1))

    async def no_sleep(_: float) -> None:
        return None

    async def run() -> list[Any]:
        async with AsyncProviderClient(sleep=no_sleep, **options) as client:
            return [chunk async for chunk in client.stream_generate("Hi.", {}, seed=1)]

    return anyio.run(run)


@pytest.fixture(params=["sync", "async"])
def variant(request: pytest.FixtureRequest) -> Variant:
    return request.param  # type: ignore[no-any-return]


def test_chunks_arrive_typed_and_concatenate(variant: Variant) -> None:
    script = Script(Pieces(HEADER + AUDIO[0][:7], AUDIO[0][7:] + AUDIO[1], AUDIO[2] + END))
    chunks = collect(variant, script)
    assert isinstance(chunks[0], StreamHeader)
    assert chunks[0].sample_rate == 24000
    audio = [chunk.samples for chunk in chunks if isinstance(chunk, StreamAudio)]
    assert np.concatenate(audio).tobytes() == SAMPLES.tobytes()
    assert chunks[-1] == StreamEnd(total_samples=SAMPLES.size)
    request = script.requests[0]
    assert request.headers["accept"] == STREAM_MEDIA_TYPE
    assert b'"seed":1' in request.read()


def test_503_before_the_first_byte_is_retried(variant: Variant) -> None:
    busy = json_response(503, {"detail": "full"}, {"Retry-After": "0"})
    script = Script(busy, httpx.ConnectError("refused"), Pieces(HEADER, *AUDIO, END))
    assert isinstance(collect(variant, script)[-1], StreamEnd)
    assert len(script.requests) == 3


def test_a_refusal_is_the_usual_http_error(variant: Variant) -> None:
    busy = json_response(503, {"detail": "full"}, {"Retry-After": "0"})
    with pytest.raises(UnavailableError):
        collect(variant, Script(busy, busy, busy))


@pytest.mark.parametrize(
    ("pieces", "clause"),
    [
        ((HEADER, AUDIO[0]), "STR-4"),
        ((HEADER, AUDIO[0], httpx.ReadError("reset")), "STR-4"),
        ((HEADER, AUDIO[0][:-3]), "STR-4"),
        ((HEADER, AUDIO[0], error_frame("GPU lost", code="internal_error")), "STR-5"),
        ((HEADER, b"A\x03\x00\x00\x00abc"), "STR-3"),
        ((AUDIO[0], END), "STR-2"),
    ],
    ids=["truncated", "reset", "mid-frame", "in-band-error", "misaligned", "no-header"],
)
def test_a_broken_stream_is_a_typed_error_and_is_not_retried(
    variant: Variant, pieces: tuple[bytes | Exception, ...], clause: str
) -> None:
    script = Script(Pieces(*pieces), Pieces(HEADER, *AUDIO, END))
    with pytest.raises(BrokenStreamError) as caught:
        collect(variant, script)
    assert caught.value.clause == clause
    assert len(script.requests) == 1
    if clause == "STR-5":
        assert caught.value.error_body is not None
        assert caught.value.samples_received == 800


def test_a_json_answer_is_not_mistaken_for_a_stream(variant: Variant) -> None:
    v02 = json_response(200, {"audio": "", "sample_rate": 24000, "dtype": "float32"})
    with pytest.raises(BrokenStreamError, match="does not stream") as caught:
        collect(variant, Script(v02))
    assert caught.value.clause == "STR-1"
