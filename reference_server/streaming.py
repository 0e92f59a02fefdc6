"""The streamed and the WAV answers of ``POST /v1/generate`` (SPEC.md §14).

A stream runs as one job on a TTS worker, like any generation, so it takes a queue slot and is
subject to the same admission control. The worker pushes frames into a :class:`FrameChannel` of
bounded size as the backend yields audio; the response drains it. Back-pressure goes all the way:
a slow reader fills the transport, then the channel, then blocks the worker (for at most
``STALL_LIMIT_S``, after which the generation is abandoned and the stream ends with an error
frame). A reader that leaves closes the channel, and the worker stops at its next piece.

The response starts only once the first piece (or a failure) is there, so errors before the first
audio keep their HTTP status (STR-5); later failures are error frames. ``open_stream``, ``relay``
and ``ChannelResponse`` take any ``Producer``: ``/v1/audio/speech`` streams raw PCM through them
(``reference_server.speech.stream``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from reference_server.backends.base import (
    BackendError,
    GenerateJob,
    StreamingTTSBackend,
    TTSBackend,
    UnsupportedLanguageError,
    UpstreamUnavailableError,
    VoicePromptError,
)
from reference_server.dependencies import ServerState
from reference_server.disconnect import CLIENT_CLOSED, unless_disconnected
from reference_server.errors import ApiError
from reference_server.negotiation import negotiate
from reference_server.scheduler import JobStats
from voicebox_api import (
    JSON_MEDIA_TYPE,
    STREAM_MEDIA_TYPE,
    WAV_MEDIA_TYPE,
    audio_frame,
    encode_wav,
    end_frame,
    error_frame,
    header_frame,
)

__all__ = [
    "STALL_LIMIT_S",
    "STREAM_HEADERS",
    "ChannelResponse",
    "FrameChannel",
    "OpenedStream",
    "Producer",
    "count_audio",
    "negotiated_answer",
    "open_stream",
    "relay",
    "stream_answer",
    "wav_answer",
]

logger = logging.getLogger(__name__)

FRAME_SAMPLES: Final = 4096
"""Audio frames hold at most this many samples (186 ms at 22.05 kHz), so that buffering is fine
grained whatever the backend's pieces are."""
CHANNEL_FRAMES: Final = 16
"""Frames buffered between the worker and the response: 64 K samples, 256 KB of float32."""
STALL_LIMIT_S: Final = 30.0
"""How long a worker waits for a reader that takes nothing before it abandons the stream."""
STREAM_HEADERS: Final = {"X-Accel-Buffering": "no", "Cache-Control": "no-store"}


class ReaderStalledError(Exception):
    """The reader took no frame for ``STALL_LIMIT_S``."""


@dataclass(frozen=True)
class _Done:
    total_samples: int


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_Item = bytes | _Done | _Failed
_Work = asyncio.Future[tuple[int, JobStats]]


class FrameChannel:
    """A bounded hand-over of frames from a worker thread to the event loop."""

    def __init__(self, capacity: int = CHANNEL_FRAMES, stall_limit_s: float = STALL_LIMIT_S):
        self._loop = asyncio.get_running_loop()
        self._items: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._capacity = capacity
        self._stall_limit_s = stall_limit_s
        self._ready = asyncio.Event()
        self.closed = False

    # --- the worker's side ------------------------------------------------------------------

    def put(self, frame: bytes) -> bool:
        """Hand over one frame, waiting while the channel is full; False once the reader left."""
        with self._cond:
            deadline = time.monotonic() + self._stall_limit_s
            while len(self._items) >= self._capacity and not self.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ReaderStalledError
                self._cond.wait(remaining)
            if self.closed:
                return False
            self._items.append(frame)
        self._wake()
        return True

    def finish(self, item: _Done | _Failed) -> None:
        """The last item; never waits, so a failure always reaches the reader."""
        with self._cond:
            self._items.append(item)
        self._wake()

    def done(self, total_samples: int) -> None:
        """The stream is complete: ``total_samples`` generated."""
        self.finish(_Done(total_samples))

    def fail(self, error: BaseException) -> None:
        """The stream failed: the reader decides what the client sees."""
        self.finish(_Failed(error))

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody reads any more
            self._loop.call_soon_threadsafe(self._ready.set)

    # --- the reader's side ------------------------------------------------------------------

    async def get(self) -> _Item | None:
        """The next item; None once the channel is closed."""
        while True:
            self._ready.clear()
            with self._cond:
                if self.closed:
                    return None
                if self._items:
                    item = self._items.popleft()
                    self._cond.notify_all()
                    return item
            await self._ready.wait()

    def close(self) -> None:
        """The reader is gone: the worker's next ``put`` returns False."""
        with self._cond:
            self.closed = True
            self._items.clear()
            self._cond.notify_all()
        self._ready.set()


def _produce(backend: TTSBackend, payloads: list[tuple[GenerateJob, FrameChannel]]) -> list[int]:
    """A scheduler run function: stream one job into its channel. Never raises: failures travel
    through the channel, so the worker is free as soon as the generation stops."""
    (job, channel), total = payloads[0], 0
    assert isinstance(backend, StreamingTTSBackend)
    pieces = backend.stream(job)
    try:
        header_sent = False
        for piece in pieces:
            if not header_sent:
                header_sent = True
                if not channel.put(header_frame(piece.sample_rate, "float32")):
                    return [total]
            for start in range(0, piece.samples.shape[0], FRAME_SAMPLES):
                frame = piece.samples[start : start + FRAME_SAMPLES]
                if not channel.put(audio_frame(frame, "float32")):
                    return [total]
                total += frame.shape[0]
        channel.done(total)
    except BaseException as exc:  # handed to the reader, who decides the status
        channel.fail(exc)
    finally:
        pieces.close()  # type: ignore[attr-defined]
    return [total]


Producer = Callable[[TTSBackend, list[tuple[GenerateJob, FrameChannel]]], list[int]]
"""A scheduler run function that streams one job's bytes into its channel and returns the
number of samples it generated; it never raises (failures are ``channel.finish(_Failed)``)."""


@dataclass(frozen=True)
class OpenedStream:
    """A stream whose first piece has arrived: what ``relay`` sends on."""

    first: _Item
    channel: FrameChannel
    work: _Work


async def open_stream(
    request: Request, server: ServerState, job: GenerateJob, produce: Producer
) -> OpenedStream:
    """Start ``produce`` on a TTS worker and wait for its first piece; a failure before it
    (queue full, timeout, bad input, the client leaving) is raised with its HTTP status."""
    channel = FrameChannel()
    work = asyncio.ensure_future(server.runtime.run_tts((job, channel), produce))
    try:
        first = await unless_disconnected(request, _first_item(channel, work))
    except BaseException:
        channel.close()
        work.add_done_callback(_consume)
        raise
    if first is None or isinstance(first, _Failed):
        work.add_done_callback(_consume)
        if first is None:
            raise ApiError(CLIENT_CLOSED, "the client closed the connection", code="client_closed")
        raise _as_api_error(first.error)
    return OpenedStream(first, channel, work)


async def stream_answer(request: Request, server: ServerState, job: GenerateJob) -> Response:
    """The streamed answer; 503/422 before the first byte like the JSON answer."""
    opened = await open_stream(request, server, job, _produce)

    def end(total_samples: int) -> bytes:
        count_audio(server, total_samples)
        return end_frame(total_samples)

    body = relay(opened, end=end, failed=_error_frame)
    return ChannelResponse(opened, body, media_type=STREAM_MEDIA_TYPE)


class ChannelResponse(StreamingResponse):
    """A streamed answer fed by an opened stream's channel. However the response ends (done, a
    disconnect the server reports through ``receive()``, which ASGI 2.4 servers do only there, or
    the app's task being cancelled while the body waits at a ``yield``), the channel is closed,
    so the worker stops at its next piece."""

    def __init__(self, opened: OpenedStream, content: AsyncIterator[bytes], media_type: str):
        super().__init__(content, media_type=media_type, headers=STREAM_HEADERS)
        self._opened = opened

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        channel = self._opened.channel
        watcher = asyncio.ensure_future(_disconnected(receive))
        watcher.add_done_callback(lambda _: channel.close())
        try:
            await super().__call__(scope, receive, send)
        finally:
            channel.close()
            watcher.cancel()
            self._opened.work.add_done_callback(_consume)


async def _first_item(channel: FrameChannel, work: _Work) -> _Item | None:
    """The first frame, or the failure that came instead (queue full, timeout, bad input)."""
    getting = asyncio.ensure_future(channel.get())
    try:
        waiting: set[asyncio.Future[Any]] = {getting, work}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if getting.done():
            return getting.result()
        work.result()  # raises the ApiError of the queue (503) or the backend (422)
        return await getting  # the job finished: its items are all in the channel
    finally:
        if not getting.done():
            getting.cancel()


async def relay(
    opened: OpenedStream,
    *,
    end: Callable[[int], bytes],
    failed: Callable[[BaseException], bytes],
) -> AsyncIterator[bytes]:
    """The body of an opened stream (sent by a ``ChannelResponse``): its pieces, then
    ``end(total_samples)`` or ``failed(error)``, which may raise instead to abort the response."""
    item: _Item | None = opened.first
    try:
        while item is not None:
            if isinstance(item, bytes):
                yield item
            elif isinstance(item, _Done):
                yield end(item.total_samples)
                return
            else:
                yield failed(item.error)
                return
            item = await opened.channel.get()
    finally:
        opened.channel.close()


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def count_audio(server: ServerState, samples: int) -> None:
    tts = server.runtime.tts
    if tts is not None:
        server.runtime.metrics.audio_seconds.inc(samples / tts.sample_rate)


def _error_frame(error: BaseException) -> bytes:
    if isinstance(error, BackendError | UpstreamUnavailableError):
        error = _as_api_error(error)
    if isinstance(error, ApiError):
        return error_frame(str(error), code=error.code)
    if isinstance(error, ReaderStalledError):
        return error_frame("the client read nothing for too long", code="reader_stalled")
    logger.error("a streamed generation failed after its first byte", exc_info=error)
    return error_frame("the generation failed", code="internal_error")


def _as_api_error(error: BaseException) -> BaseException:
    """A backend's refusal as the runtime answers it for the JSON answer (422; 503 with
    ``Retry-After`` for an upstream that is unavailable)."""
    if isinstance(error, UpstreamUnavailableError):
        return ApiError(
            503,
            str(error),
            code="upstream_unavailable",
            headers={"Retry-After": str(error.retry_after_s)},
        )
    if isinstance(error, UnsupportedLanguageError):
        return ApiError(422, str(error), code="unsupported_language")
    if isinstance(error, VoicePromptError):
        return ApiError(422, str(error), code="invalid_voice_prompt")
    if isinstance(error, BackendError):
        return ApiError(422, str(error), code="backend_rejected")
    return error


def negotiated_answer(request: Request, tts: TTSBackend) -> str:
    """The media type to answer with (SPEC.md §14.1); 406 when none is acceptable."""
    offered = [JSON_MEDIA_TYPE, WAV_MEDIA_TYPE]
    if isinstance(tts, StreamingTTSBackend):
        offered.append(STREAM_MEDIA_TYPE)
    accept = request.headers.get("accept")
    chosen = negotiate(accept, offered)
    if chosen is None:
        streaming = "" if STREAM_MEDIA_TYPE in offered else "; its backend does not stream"
        raise ApiError(
            406,
            f"Accept {(accept or '')[:120]!r} allows none of {', '.join(offered)}{streaming}",
            code="not_acceptable",
        )
    return chosen


def _consume(work: _Work) -> None:
    """Retrieve a finished job's outcome so that asyncio never logs it as unretrieved."""
    if not work.cancelled():
        work.exception()


async def wav_answer(request: Request, server: ServerState, job: GenerateJob) -> Response:
    """The whole clip as a WAV file (BIN-1), encoded on the worker like the JSON answer."""
    body, _ = await unless_disconnected(request, server.runtime.run_tts(job, _generate_wav))
    return Response(body, media_type=WAV_MEDIA_TYPE)


def _generate_wav(backend: TTSBackend, jobs: list[GenerateJob]) -> list[bytes]:
    return [
        encode_wav(synthesis.samples, synthesis.sample_rate, "float32")
        for synthesis in backend.generate(jobs)
    ]
