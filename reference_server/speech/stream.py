"""What ``/v1/audio/speech`` streams: PCM chunks, and the SSE events around any format's bytes.

``pcm_chunks`` is the one function to swap for real streaming. Today it is given a finished
clip and yields its PCM in chunks as soon as the clip exists; a backend that produces audio
incrementally replaces it with an iterator over its own chunks (each converted by ``to_pcm16``),
and the routes, the SSE framing and the clients stay as they are.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Final

import anyio

from reference_server.backends.base import Synthesis
from reference_server.speech.formats import to_pcm16
from voicebox_api import SpeechAudioDeltaEvent, SpeechAudioDoneEvent, SpeechUsage

__all__ = ["CHUNK_BYTES", "byte_chunks", "iterate", "pcm_chunks", "sse_events"]

CHUNK_BYTES: Final = 9_600
"""200 ms of 24 kHz s16le mono per chunk."""


def byte_chunks(data: bytes, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def pcm_chunks(synthesis: Synthesis) -> Iterator[bytes]:
    """The default: the finished clip's PCM, in chunks (not yet incremental generation)."""
    yield from byte_chunks(to_pcm16(synthesis.samples, synthesis.sample_rate))


async def iterate(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    """Hand a (possibly blocking) chunk iterator to the event loop one chunk at a time."""
    iterator = iter(chunks)
    done = object()
    while True:
        chunk = await anyio.to_thread.run_sync(next, iterator, done)
        if chunk is done:
            return
        assert isinstance(chunk, bytes)
        yield chunk


async def sse_events(chunks: AsyncIterator[bytes], input_chars: int) -> AsyncIterator[bytes]:
    """OpenAI's ``speech.audio.delta`` events, then ``speech.audio.done``. The reference server
    counts characters as input tokens and chunks as output tokens: it has no tokenizer."""
    count = 0
    async for chunk in chunks:
        count += 1
        delta = SpeechAudioDeltaEvent(audio=base64.b64encode(chunk).decode("ascii"))
        yield _event(delta.model_dump_json())
    usage = SpeechUsage(
        input_tokens=input_chars, output_tokens=count, total_tokens=input_chars + count
    )
    yield _event(SpeechAudioDoneEvent(usage=usage).model_dump_json())


def _event(data: str) -> bytes:
    return f"data: {data}\n\n".encode()  # pydantic's JSON is one line
