"""The framing of a streamed ``/v1/generate`` answer (SPEC.md §14), both ways.

A stream is a sequence of frames, each a 1-byte type, a 4-byte little-endian payload length and
the payload:

- ``H`` header, JSON :class:`StreamHeader` (rate, dtype, channels), exactly once, first;
- ``A`` audio, a whole, non-zero number of little-endian samples of the header's dtype;
- ``E`` end, JSON :class:`StreamEnd` (``total_samples``), last, for a complete stream;
- ``X`` error, JSON :class:`ErrorBody`, last, for a generation that failed after the first byte.

Length-prefixed binary rather than server-sent events or multipart: samples travel without
base64, a reader knows every frame's size before reading it, and a cut anywhere is detectable.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from voicebox_api._models import ALLOWED_DTYPES, Dtype, ErrorBody, StreamEnd, StreamHeader

__all__ = [
    "FRAME_AUDIO",
    "FRAME_END",
    "FRAME_ERROR",
    "FRAME_HEADER",
    "MAX_FRAME_BYTES",
    "InBandError",
    "MisalignedFrameError",
    "MissingHeaderError",
    "StreamAudio",
    "StreamChunk",
    "StreamDecoder",
    "StreamFramingError",
    "StreamProtocolError",
    "TruncatedStreamError",
    "audio_frame",
    "end_frame",
    "error_frame",
    "header_frame",
]

FRAME_HEADER: Final = b"H"
FRAME_AUDIO: Final = b"A"
FRAME_END: Final = b"E"
FRAME_ERROR: Final = b"X"
_PREFIX: Final = struct.Struct("<cI")
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
"""A decoder refuses longer frames: 16 MiB is 87 s of float32 at 48 kHz in one frame."""


class StreamProtocolError(ValueError):
    """A stream breaks SPEC.md §14; ``clause`` names the requirement."""

    clause: str = "STR-1"


class StreamFramingError(StreamProtocolError):
    """An unknown frame type, an oversized frame, bad JSON, or a frame out of order."""

    clause = "STR-1"


class MissingHeaderError(StreamProtocolError):
    """The first frame is not a header, or the header lacks a valid rate or dtype."""

    clause = "STR-2"


class MisalignedFrameError(StreamProtocolError):
    """An audio frame that is empty or not a whole number of samples."""

    clause = "STR-3"


class TruncatedStreamError(StreamProtocolError):
    """The stream stopped before its end frame, or the end frame's total is not what came."""

    clause = "STR-4"


class InBandError(StreamProtocolError):
    """The provider reported an error after the first byte, in an error frame."""

    clause = "STR-5"

    def __init__(self, message: str, body: ErrorBody) -> None:
        super().__init__(message)
        self.body = body


@dataclass(frozen=True)
class StreamAudio:
    """One audio frame: samples in the header's dtype, and the index of the first one."""

    samples: npt.NDArray[np.generic]
    offset: int

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])


StreamChunk = StreamHeader | StreamAudio | StreamEnd
"""What a decoder yields: one header, audio, then one end."""


def _frame(kind: bytes, payload: bytes) -> bytes:
    return _PREFIX.pack(kind, len(payload)) + payload


def header_frame(sample_rate: int, dtype: Dtype) -> bytes:
    header = StreamHeader(sample_rate=sample_rate, dtype=dtype)
    return _frame(FRAME_HEADER, header.model_dump_json().encode())


def audio_frame(samples: npt.ArrayLike, dtype: Dtype) -> bytes:
    """One audio frame of mono ``samples`` cast to ``dtype`` (little-endian)."""
    array = np.asarray(samples)
    if array.ndim != 1 or array.size == 0:
        raise ValueError("an audio frame holds a non-empty 1-D array of samples")
    return _frame(FRAME_AUDIO, array.astype(np.dtype(dtype).newbyteorder("<")).tobytes())


def end_frame(total_samples: int) -> bytes:
    return _frame(FRAME_END, StreamEnd(total_samples=total_samples).model_dump_json().encode())


def error_frame(detail: str, **members: object) -> bytes:
    body = ErrorBody.model_validate({"detail": detail, **members})
    return _frame(FRAME_ERROR, body.model_dump_json().encode())


class StreamDecoder:
    """Incremental decoder: ``feed`` it bytes as they arrive, then call ``finish``.

    It checks every framing rule as it goes and raises the matching
    :class:`StreamProtocolError`; an error frame raises :class:`InBandError`.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.header: StreamHeader | None = None
        self.end: StreamEnd | None = None
        self.samples_seen = 0
        self.frames = 0
        self._itemsize = 0
        self._dtype: np.dtype[np.generic] | None = None

    @property
    def complete(self) -> bool:
        return self.end is not None

    def feed(self, data: bytes) -> list[StreamChunk]:
        self._buffer += data
        chunks: list[StreamChunk] = []
        while (frame := self._next_frame()) is not None:
            chunks.append(self._read(*frame))
        return chunks

    def finish(self) -> StreamEnd:
        """The end frame; raises if the stream stopped before it."""
        if self.end is None:
            state = "before the header" if self.header is None else "before the end frame"
            partial = f", {len(self._buffer)} bytes into a frame" if self._buffer else ""
            raise TruncatedStreamError(
                f"the stream stopped {state} after {self.samples_seen} samples{partial}"
            )
        return self.end

    def _next_frame(self) -> tuple[bytes, bytes] | None:
        if len(self._buffer) < _PREFIX.size:
            return None
        kind, length = _PREFIX.unpack_from(self._buffer)
        if kind not in (FRAME_HEADER, FRAME_AUDIO, FRAME_END, FRAME_ERROR):
            raise StreamFramingError(f"frame {self.frames} has unknown type {kind!r}")
        if length > MAX_FRAME_BYTES:
            raise StreamFramingError(f"frame {self.frames} claims {length} bytes")
        if len(self._buffer) < _PREFIX.size + length:
            return None
        payload = bytes(self._buffer[_PREFIX.size : _PREFIX.size + length])
        del self._buffer[: _PREFIX.size + length]
        return kind, payload

    def _read(self, kind: bytes, payload: bytes) -> StreamChunk:
        index = self.frames
        self.frames += 1
        if self.end is not None:
            raise StreamFramingError(f"frame {index} ({kind!r}) follows the end frame")
        if kind == FRAME_ERROR:
            raise self._in_band(payload)
        if self.header is None:
            return self._read_header(kind, payload)
        if kind == FRAME_HEADER:
            raise StreamFramingError(f"frame {index} is a second header")
        if kind == FRAME_AUDIO:
            return self._read_audio(payload, index)
        return self._read_end(payload)

    def _read_header(self, kind: bytes, payload: bytes) -> StreamHeader:
        if kind != FRAME_HEADER:
            raise MissingHeaderError(f"the first frame is {kind!r}, not the header")
        try:
            header = StreamHeader.model_validate_json(payload)
        except ValidationError as exc:
            raise MissingHeaderError(f"the header is invalid: {_first_issue(exc)}") from None
        if header.dtype not in ALLOWED_DTYPES:  # pragma: no cover - the model checks it
            raise MissingHeaderError(f"dtype {header.dtype!r} is not allowed")
        self.header = header
        self._dtype = np.dtype(header.dtype).newbyteorder("<")
        self._itemsize = self._dtype.itemsize
        return header

    def _read_audio(self, payload: bytes, index: int) -> StreamAudio:
        assert self._dtype is not None
        if not payload or len(payload) % self._itemsize:
            raise MisalignedFrameError(
                f"audio frame {index} is {len(payload)} bytes, not a non-zero multiple of the "
                f"{self._itemsize}-byte sample"
            )
        samples = np.frombuffer(payload, dtype=self._dtype).astype(self._dtype.newbyteorder("="))
        chunk = StreamAudio(samples=samples, offset=self.samples_seen)
        self.samples_seen += chunk.num_samples
        return chunk

    def _read_end(self, payload: bytes) -> StreamEnd:
        try:
            end = StreamEnd.model_validate_json(payload)
        except ValidationError as exc:
            raise StreamFramingError(f"the end frame is invalid: {_first_issue(exc)}") from None
        if end.total_samples != self.samples_seen:
            raise TruncatedStreamError(
                f"the end frame counts {end.total_samples} samples; {self.samples_seen} came"
            )
        self.end = end
        return end

    def _in_band(self, payload: bytes) -> StreamProtocolError:
        try:
            body = ErrorBody.model_validate_json(payload)
        except ValidationError:
            return StreamFramingError("an error frame whose payload is not an error body")
        detail = (
            body.detail
            if isinstance(body.detail, str)
            else "; ".join(issue.msg for issue in body.detail)
        )
        return InBandError(
            f"the provider failed after {self.samples_seen} samples: {detail[:200]}", body
        )


def _first_issue(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[0]
    return f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}"
