"""The mutants of SPEC.md §14: the reference server with exactly one streaming defect.

Every mutant sits behind ``RewriteMiddleware``, which buffers whole answers: to a client each of
them also streams falsely (STR-7 NON-STRICT) with a Content-Length (STR-8 NON-STRICT). Only the
mutants of STR-7 and STR-8 themselves are caught by nothing else, so those two stay exact.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

from tests.conformance.mutants import Mutant, is_generate, ok, on_request, on_response
from tests.conformance.rewrite import Exchange, Rewrite
from voicebox_api import (
    STREAM_MEDIA_TYPE,
    WAV_MEDIA_TYPE,
    audio_frame,
    end_frame,
    error_frame,
)

_PREFIX = struct.Struct("<cI")


def _frames(body: bytes) -> list[tuple[bytes, bytes]]:
    frames, offset = [], 0
    while offset + _PREFIX.size <= len(body):
        kind, length = _PREFIX.unpack_from(body, offset)
        frames.append((kind, body[offset + _PREFIX.size : offset + _PREFIX.size + length]))
        offset += _PREFIX.size + length
    return frames


def _join(frames: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(_PREFIX.pack(kind, len(payload)) + payload for kind, payload in frames)


def _asks_stream(ex: Exchange) -> bool:
    return is_generate(ex) and ex.headers.get("accept") == STREAM_MEDIA_TYPE


def _edit_stream(change: Callable[[list[tuple[bytes, bytes]]], bytes]) -> Rewrite:
    def edit(ex: Exchange) -> None:
        if ex.response_headers.get("content-type") == STREAM_MEDIA_TYPE:
            ex.response_body = change(_frames(ex.response_body))

    return on_response(ok(_asks_stream), edit)


def _audio(frames: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(payload for kind, payload in frames if kind == b"A")


def _header_without_dtype(frames: list[tuple[bytes, bytes]]) -> bytes:
    kind, payload = frames[0]
    return _join([(kind, payload.replace(b',"dtype":"float32"', b"")), *frames[1:]])


def _misaligned(frames: list[tuple[bytes, bytes]]) -> bytes:
    audio = _audio(frames)
    cut = len(audio) // 2 + 1  # one byte past a sample boundary
    pieces = [(b"A", audio[:cut]), (b"A", audio[cut:])]
    return _join([frames[0], *pieces, frames[-1]])


def _truncated(frames: list[tuple[bytes, bytes]]) -> bytes:
    audio = [frame for frame in frames if frame[0] == b"A"]
    return _join([frames[0], *audio[: max(1, len(audio) // 2)]])


def _error_halfway(frames: list[tuple[bytes, bytes]]) -> bytes:
    audio = [frame for frame in frames if frame[0] == b"A"]
    head = _join([frames[0], *audio[: max(1, len(audio) // 2)]])
    return head + error_frame("the generation failed", code="internal_error")


def _one_sample_off(frames: list[tuple[bytes, bytes]]) -> bytes:
    samples = np.frombuffer(_audio(frames), "<f4").copy()
    samples[samples.size // 2] = np.float32(samples[samples.size // 2] * 0.5)
    return _join([frames[0]]) + audio_frame(samples, "float32") + end_frame(samples.size)


def _without_accel_header(ex: Exchange) -> None:
    ex.response_headers.pop("x-accel-buffering", None)


def _ignore_unknown_accept(ex: Exchange) -> None:
    if ex.headers.get("accept") not in (STREAM_MEDIA_TYPE, WAV_MEDIA_TYPE):
        ex.headers.pop("accept", None)


def _wav_at_double_rate(ex: Exchange) -> None:
    if ex.response_headers.get("content-type") != WAV_MEDIA_TYPE:
        return
    body = bytearray(ex.response_body)
    rate, byte_rate = struct.unpack_from("<II", body, 24)
    struct.pack_into("<II", body, 24, rate * 2, byte_rate * 2)
    ex.response_body = bytes(body)


def streaming_mutants() -> list[Mutant]:
    def wav(ex: Exchange) -> bool:
        return is_generate(ex) and ex.headers.get("accept") == WAV_MEDIA_TYPE

    return [
        Mutant(
            "STR-1",
            "declares streaming but ignores the Accept header and answers JSON",
            lambda: on_request(_asks_stream, lambda ex: ex.headers.pop("accept", None)),
        ),
        Mutant(
            "STR-2",
            "sends a header frame without the dtype",
            lambda: _edit_stream(_header_without_dtype),
        ),
        Mutant(
            "STR-3",
            "cuts audio frames at a byte that splits a sample",
            lambda: _edit_stream(_misaligned),
        ),
        Mutant(
            "STR-4",
            "stops the stream halfway without an end frame",
            lambda: _edit_stream(_truncated),
        ),
        Mutant(
            "STR-5",
            "fails a valid stream halfway with an error frame",
            lambda: _edit_stream(_error_halfway),
        ),
        Mutant(
            "STR-6",
            "streams a sample that differs from the whole clip's",
            lambda: _edit_stream(_one_sample_off),
        ),
        Mutant(
            "STR-7",
            "makes the whole clip first, then sends it as a stream",
            lambda: _edit_stream(_join),
        ),
        Mutant(
            "STR-8",
            "streams without X-Accel-Buffering: no",
            lambda: on_response(ok(_asks_stream), _without_accel_header),
        ),
        Mutant(
            "STR-9",
            "answers JSON whatever the Accept header asks for",
            lambda: on_request(is_generate, _ignore_unknown_accept),
        ),
        Mutant(
            "BIN-1",
            "writes twice the sample rate into its WAV answers",
            lambda: on_response(ok(wav), _wav_at_double_rate),
        ),
    ]
