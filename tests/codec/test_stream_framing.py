"""The stream framing of SPEC.md §14.2: what the encoder writes, the decoder reads back, and
every way a stream can break is told apart."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicebox_api import (
    InBandError,
    MisalignedFrameError,
    MissingHeaderError,
    StreamAudio,
    StreamDecoder,
    StreamEnd,
    StreamFramingError,
    StreamHeader,
    TruncatedStreamError,
    audio_frame,
    end_frame,
    error_frame,
    header_frame,
)

SAMPLES = (np.sin(np.linspace(0, 30, 3000)) * 0.5).astype(np.float32)


def _stream(samples: np.ndarray = SAMPLES, cuts: tuple[int, ...] = (1000, 2200)) -> bytes:
    pieces = np.split(samples, cuts)
    audio = b"".join(audio_frame(piece, "float32") for piece in pieces)
    return header_frame(24000, "float32") + audio + end_frame(samples.size)


def _decode(data: bytes, step: int = 0) -> list[object]:
    decoder = StreamDecoder()
    chunks: list[object] = []
    steps = range(0, len(data), step) if step else [0]
    for start in steps:
        chunks += decoder.feed(data[start : start + step] if step else data)
    decoder.finish()
    return chunks


def _raw(kind: bytes, payload: bytes) -> bytes:
    return struct.pack("<cI", kind, len(payload)) + payload


@given(step=st.integers(min_value=1, max_value=5000))
def test_a_stream_decodes_whatever_the_read_sizes(step: int) -> None:
    chunks = _decode(_stream(), step)
    assert chunks[0] == StreamHeader(sample_rate=24000, dtype="float32", channels=1)
    audio = [chunk for chunk in chunks if isinstance(chunk, StreamAudio)]
    assert [a.offset for a in audio] == [0, 1000, 2200]
    assert np.concatenate([a.samples for a in audio]).tobytes() == SAMPLES.tobytes()
    assert chunks[-1] == StreamEnd(total_samples=SAMPLES.size)


def test_int16_samples_keep_their_dtype() -> None:
    samples = (SAMPLES * 30000).astype(np.int16)
    data = header_frame(8000, "int16") + audio_frame(samples, "int16") + end_frame(samples.size)
    audio = _decode(data)[1]
    assert isinstance(audio, StreamAudio)
    assert audio.samples.dtype == np.int16
    assert np.array_equal(audio.samples, samples)


@pytest.mark.parametrize("cut", [5, 40, 3000, -10, -1])
def test_a_cut_stream_is_truncated_not_short(cut: int) -> None:
    with pytest.raises(TruncatedStreamError):
        _decode(_stream()[:cut])


def test_an_end_frame_that_counts_wrong_is_truncation() -> None:
    data = header_frame(24000, "float32") + audio_frame(SAMPLES, "float32") + end_frame(10)
    with pytest.raises(TruncatedStreamError, match="counts 10"):
        _decode(data)


def test_an_error_frame_is_an_in_band_error_with_its_body() -> None:
    data = header_frame(24000, "float32") + audio_frame(SAMPLES, "float32")
    with pytest.raises(InBandError) as caught:
        _decode(data + error_frame("the GPU fell over", code="internal_error"))
    assert caught.value.body.detail == "the GPU fell over"
    assert caught.value.clause == "STR-5"


@pytest.mark.parametrize(
    "header",
    [
        b'{"sample_rate": 24000}',
        b'{"dtype": "float32"}',
        b'{"sample_rate": 24000, "dtype": "uint8"}',
        b'{"sample_rate": 24000, "dtype": "float32", "channels": 2}',
        b"not json",
    ],
)
def test_a_header_without_a_valid_rate_or_dtype_is_refused(header: bytes) -> None:
    with pytest.raises(MissingHeaderError):
        _decode(_raw(b"H", header) + audio_frame(SAMPLES, "float32") + end_frame(SAMPLES.size))


def test_audio_before_the_header_is_refused() -> None:
    with pytest.raises(MissingHeaderError):
        _decode(audio_frame(SAMPLES, "float32") + _stream())


@pytest.mark.parametrize("payload", [b"", b"\x00\x01\x02"])
def test_misaligned_or_empty_audio_frames_are_refused(payload: bytes) -> None:
    data = header_frame(24000, "float32") + _raw(b"A", payload) + end_frame(0)
    with pytest.raises(MisalignedFrameError):
        _decode(data)


@pytest.mark.parametrize(
    "extra",
    [_raw(b"Z", b"x"), header_frame(24000, "float32"), audio_frame(SAMPLES[:4], "float32")],
)
def test_unknown_frames_second_headers_and_frames_after_the_end_are_refused(extra: bytes) -> None:
    stream = _stream()
    end = len(end_frame(SAMPLES.size))
    with pytest.raises(StreamFramingError):
        _decode(stream[:-end] + extra + stream[-end:] if extra[:1] != b"A" else stream + extra)


def test_an_oversized_frame_is_refused_before_it_is_buffered() -> None:
    with pytest.raises(StreamFramingError, match="claims"):
        StreamDecoder().feed(struct.pack("<cI", b"A", 2**31))
