"""What ``/v1/audio/speech`` streams: PCM as the backend makes it, and the SSE events around it.

``stream=true`` pcm and ``stream_format=sse`` pcm run as one job on a TTS worker, through the
channel of ``reference_server.streaming`` (the same admission control, back-pressure and
"a reader that leaves stops the generation" as ``/v1/generate`` streams). A backend that streams
hands out its pieces (espeak and qwen: sentence by sentence); each is resampled to 24 kHz by one
stateful ``soxr.ResampleStream`` and quantised, so the concatenated stream is byte for byte the
non-streamed ``pcm`` answer (soxr's stream and one-shot resamplers agree exactly). A backend that
does not stream, or a ``speed`` other than 1 (``atempo`` works on the whole clip), sends the
finished clip in chunks. Other formats' encoders need the whole clip: their SSE events carry
chunks of the finished file.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Final

import anyio
import numpy as np
import numpy.typing as npt
import soxr

from reference_server.backends.base import (
    GenerateJob,
    StreamingTTSBackend,
    Synthesis,
    TTSBackend,
)
from reference_server.speech.formats import quantize_pcm16
from reference_server.speech.tempo import change_speed
from reference_server.streaming import FrameChannel, Producer
from voicebox_api import (
    SPEECH_PCM_SAMPLE_RATE,
    SpeechAudioDeltaEvent,
    SpeechAudioDoneEvent,
    SpeechUsage,
)

__all__ = ["CHUNK_BYTES", "Pcm24k", "byte_chunks", "iterate", "pcm_producer", "sse_events"]

FloatAudio = npt.NDArray[np.float32]

CHUNK_BYTES: Final = 9_600
"""At most 200 ms of 24 kHz s16le mono per chunk."""


def byte_chunks(data: bytes, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class Pcm24k:
    """Float pieces at ``rate`` to OpenAI's ``pcm`` (s16le mono 24 kHz), piece by piece."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._resampler = (
            None
            if rate == SPEECH_PCM_SAMPLE_RATE
            else soxr.ResampleStream(rate, SPEECH_PCM_SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        )

    def push(self, samples: FloatAudio, *, last: bool = False) -> bytes:
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples, last=last)
        return quantize_pcm16(samples)

    def flush(self) -> bytes:
        """The resampler's last samples (call once, at the end)."""
        return self.push(np.zeros(0, dtype=np.float32), last=True)


def pcm_producer(speed: float) -> Producer:
    """The worker's side of a PCM stream (a ``streaming.Producer``)."""

    def produce(backend: TTSBackend, payloads: list[tuple[GenerateJob, FrameChannel]]) -> list[int]:
        (job, channel), total = payloads[0], 0
        pieces = _pieces(backend, job, speed)
        try:
            pcm: Pcm24k | None = None
            for piece in pieces:
                if pcm is None:
                    pcm = Pcm24k(piece.sample_rate)
                elif piece.sample_rate != pcm.rate:
                    raise RuntimeError("a backend changed its sample rate within one stream")
                if not _put(channel, pcm.push(piece.samples)):
                    return [total]
                total += piece.samples.shape[0]
            if pcm is not None and not _put(channel, pcm.flush()):
                return [total]
            channel.done(total)
        except BaseException as exc:  # handed to the reader, who decides what the client sees
            channel.fail(exc)
        finally:
            close = getattr(pieces, "close", None)
            if callable(close):
                close()  # stops a backend's generator early when the reader left
        return [total]

    return produce


def _pieces(backend: TTSBackend, job: GenerateJob, speed: float) -> Iterator[Synthesis]:
    if speed == 1.0 and isinstance(backend, StreamingTTSBackend):
        return backend.stream(job)
    return _whole(backend, job, speed)


def _whole(backend: TTSBackend, job: GenerateJob, speed: float) -> Iterator[Synthesis]:
    (synthesis,) = backend.generate([job])
    samples = change_speed(synthesis.samples, synthesis.sample_rate, speed)
    yield Synthesis(samples=samples, sample_rate=synthesis.sample_rate)


def _put(channel: FrameChannel, data: bytes) -> bool:
    return all(channel.put(chunk) for chunk in byte_chunks(data))


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
        if not chunk:
            continue
        count += 1
        delta = SpeechAudioDeltaEvent(audio=base64.b64encode(chunk).decode("ascii"))
        yield _event(delta.model_dump_json())
    usage = SpeechUsage(
        input_tokens=input_chars, output_tokens=count, total_tokens=input_chars + count
    )
    yield _event(SpeechAudioDoneEvent(usage=usage).model_dump_json())


def _event(data: str) -> bytes:
    return f"data: {data}\n\n".encode()  # pydantic's JSON is one line
