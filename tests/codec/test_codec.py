"""The audio codec (SPEC.md §7): exact round trips for every dtype, length and rate,
little-endian bytes on the wire, and one precise error per defect."""

from __future__ import annotations

import base64
import re

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from voicebox_api import (
    ALLOWED_DTYPES,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AudioCodecError,
    Dtype,
    EmptyAudioError,
    GenerateResponse,
    InvalidBase64Error,
    MisalignedLengthError,
    NonFiniteSamplesError,
    OutOfRangeError,
    UnknownDtypeError,
    decode_audio,
    decode_response,
    encode_audio,
    encode_response,
    to_float32,
)

MAX_LENGTH = 4000
dtypes = st.sampled_from(ALLOWED_DTYPES)
sample_rates = st.integers(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE)
lengths = st.integers(1, MAX_LENGTH)


def _elements(dtype: str) -> st.SearchStrategy[float] | st.SearchStrategy[int]:
    if dtype.startswith("int"):
        info = np.iinfo(dtype)
        return st.integers(int(info.min), int(info.max))
    return st.floats(-1.0, 1.0, width=32 if dtype == "float32" else 64)


@st.composite
def valid_audio(draw: st.DrawFn, dtype: str | None = None) -> npt.NDArray[np.generic]:
    chosen = dtype or draw(dtypes)
    return draw(hnp.arrays(np.dtype(chosen), draw(lengths), elements=_elements(chosen)))


def _same_bits(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> bool:
    """Bit-identical, so that -0.0 and 0.0 differ and nothing is "close enough"."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --- Round trips ---------------------------------------------------------------------------------


@given(samples=valid_audio(), rate=sample_rates)
def test_response_round_trip_is_exact(samples: npt.NDArray[np.generic], rate: int) -> None:
    dtype: Dtype = samples.dtype.name  # type: ignore[assignment]
    body = encode_response(samples, rate, dtype)
    decoded = decode_response(body)
    assert decoded.sample_rate == rate
    assert decoded.dtype == dtype
    assert _same_bits(decoded.samples, samples)
    assert decoded.num_samples == len(samples)
    assert decoded.duration_s == len(samples) / rate


@given(samples=valid_audio(), rate=sample_rates)
def test_round_trip_survives_json(samples: npt.NDArray[np.generic], rate: int) -> None:
    body = encode_response(samples, rate, samples.dtype.name)  # type: ignore[arg-type]
    again = GenerateResponse.model_validate_json(body.model_dump_json())
    assert _same_bits(decode_response(again).samples, samples)


@given(samples=valid_audio())
def test_audio_round_trip_is_exact(samples: npt.NDArray[np.generic]) -> None:
    encoded = encode_audio(samples)
    assert _same_bits(decode_audio(encoded, samples.dtype.name), samples)


@given(samples=valid_audio())
def test_the_wire_is_little_endian_standard_base64(samples: npt.NDArray[np.generic]) -> None:
    encoded = encode_audio(samples)
    little = np.dtype(samples.dtype.name).newbyteorder("<")
    assert base64.b64decode(encoded, validate=True) == samples.astype(little).tobytes()
    assert re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", encoded)
    assert len(encoded) % 4 == 0


@given(samples=valid_audio())
def test_big_endian_input_still_goes_out_little_endian(samples: npt.NDArray[np.generic]) -> None:
    big = samples.astype(samples.dtype.newbyteorder(">"))
    assert encode_audio(big, samples.dtype.name) == encode_audio(samples)  # type: ignore[arg-type]
    decoded = decode_audio(encode_audio(big, samples.dtype.name), samples.dtype.name)  # type: ignore[arg-type]
    assert decoded.dtype.byteorder in ("=", "|")
    assert np.array_equal(decoded, samples)


@pytest.mark.parametrize(
    ("dtype", "value", "wire"),
    [
        ("int16", 1, b"\x01\x00"),
        ("int16", -2, b"\xfe\xff"),
        ("int32", 1, b"\x01\x00\x00\x00"),
        ("float32", 1.0, b"\x00\x00\x80\x3f"),
        ("float64", -1.0, b"\x00\x00\x00\x00\x00\x00\xf0\xbf"),
    ],
)
def test_known_wire_bytes(dtype: Dtype, value: float, wire: bytes) -> None:
    encoded = encode_audio(np.array([value], dtype=dtype))
    assert base64.b64decode(encoded) == wire
    assert decode_audio(base64.b64encode(wire).decode(), dtype)[0] == value


@given(samples=valid_audio("float64"))
def test_casting_on_encode(samples: npt.NDArray[np.float64]) -> None:
    decoded = decode_audio(encode_audio(samples, "float32"), "float32")
    assert decoded.dtype == np.float32
    assert np.array_equal(decoded, samples.astype(np.float32))


@given(samples=valid_audio("int16"))
def test_widening_integers_is_exact(samples: npt.NDArray[np.int16]) -> None:
    decoded = decode_audio(encode_audio(samples, "int32"), "int32")
    assert np.array_equal(decoded, samples)


# --- Each defect, its own error ------------------------------------------------------------------

ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


@given(
    samples=valid_audio(),
    char=st.characters(codec="utf-8").filter(lambda c: c not in ALPHABET),
    data=st.data(),
)
def test_a_character_outside_the_alphabet_is_named(
    samples: npt.NDArray[np.generic], char: str, data: st.DataObject
) -> None:
    encoded = encode_audio(samples)
    index = data.draw(st.integers(0, len(encoded)))
    broken = encoded[:index] + char + encoded[index:]
    with pytest.raises(InvalidBase64Error) as caught:
        decode_audio(broken, samples.dtype.name)
    assert f"{char!r} at index {index}" in str(caught.value)
    assert caught.value.clause == "AUD-1"


@given(samples=valid_audio())
def test_the_url_safe_alphabet_is_refused(samples: npt.NDArray[np.generic]) -> None:
    encoded = encode_audio(samples)
    assume("+" in encoded or "/" in encoded)
    url_safe = encoded.translate(str.maketrans("+/", "-_"))
    with pytest.raises(InvalidBase64Error, match="URL-safe alphabet"):
        decode_audio(url_safe, samples.dtype.name)


@given(samples=valid_audio())
def test_line_breaks_are_refused(samples: npt.NDArray[np.generic]) -> None:
    mime = base64.encodebytes(samples.astype(samples.dtype.newbyteorder("<")).tobytes()).decode()
    with pytest.raises(InvalidBase64Error, match="line breaks are not allowed"):
        decode_audio(mime, samples.dtype.name)  # MIME base64 ends every line with \n
    crlf = encode_audio(samples) + "\r\n"
    with pytest.raises(InvalidBase64Error, match="line breaks are not allowed"):
        decode_audio(crlf, samples.dtype.name)


@given(samples=valid_audio())
def test_missing_padding_is_refused(samples: npt.NDArray[np.generic]) -> None:
    encoded = encode_audio(samples)
    assume(encoded.endswith("="))
    with pytest.raises(InvalidBase64Error, match="not a multiple of 4"):
        decode_audio(encoded.rstrip("="), samples.dtype.name)


@given(samples=valid_audio(), extra=st.integers(1, 3))
def test_extra_padding_is_refused(samples: npt.NDArray[np.generic], extra: int) -> None:
    encoded = encode_audio(samples)
    with pytest.raises(InvalidBase64Error, match=r"not a multiple of 4|misplaced|not canonical"):
        decode_audio(encoded + "=" * extra, samples.dtype.name)
    with pytest.raises(InvalidBase64Error, match=r"misplaced|not canonical"):
        decode_audio(encoded + "====", samples.dtype.name)


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        ("=AAA", "misplaced '=' padding"),
        ("AA=A", "misplaced '=' padding"),
        ("AA==AAAA", "misplaced '=' padding"),
        ("AB==", "not canonical"),  # non-zero unused bits
        ("AAF=", "not canonical"),
        ("AAAA====", "not canonical"),  # a whole group of padding
        ("AA==A===", "misplaced '=' padding"),
        ("AAA", "not a multiple of 4"),
        (" AAA", "' ' at index 0"),
        ("AA\tA", "'\\t' at index 2"),
        ("AAé=", "'é' at index 2"),
    ],
)
def test_bad_padding_and_stray_characters_have_precise_messages(audio: str, message: str) -> None:
    with pytest.raises(InvalidBase64Error) as caught:
        decode_audio(audio, "int16")
    assert message in str(caught.value)


@given(dtype=st.sampled_from(["int16", "int32", "float32", "float64"]), raw=st.binary(max_size=64))
def test_a_length_that_is_not_whole_samples_is_refused(dtype: Dtype, raw: bytes) -> None:
    itemsize = np.dtype(dtype).itemsize
    assume(len(raw) % itemsize)
    with pytest.raises(MisalignedLengthError) as caught:
        decode_audio(base64.b64encode(raw).decode(), dtype)
    assert f"{len(raw)} bytes is not a multiple of the {itemsize}-byte {dtype} sample" in str(
        caught.value
    )
    assert caught.value.clause == "AUD-3"


@given(
    dtype=st.text(max_size=12).filter(lambda d: d not in ALLOWED_DTYPES)
    | st.sampled_from(["uint8", "int8", "int64", "float16", "<f4", "f4", "float", "Float32", ""])
)
def test_unknown_dtypes_are_refused(dtype: str) -> None:
    with pytest.raises(UnknownDtypeError) as caught:
        decode_audio("AAAA", dtype)
    assert repr(dtype) in str(caught.value)
    assert caught.value.clause == "AUD-2"
    with pytest.raises(UnknownDtypeError):
        encode_audio(np.zeros(4, dtype=np.float32), dtype)  # type: ignore[arg-type]


@given(
    samples=valid_audio("float32") | valid_audio("float64"),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    data=st.data(),
)
def test_non_finite_samples_are_refused_and_located(
    samples: npt.NDArray[np.floating], bad: float, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(samples) - 1))
    samples = samples.copy()
    samples[index] = bad
    raw = base64.b64encode(samples.astype(samples.dtype.newbyteorder("<")).tobytes()).decode()
    with pytest.raises(NonFiniteSamplesError) as caught:
        decode_audio(raw, samples.dtype.name)
    assert f"first at index {index}" in str(caught.value)
    assert caught.value.clause == "AUD-4"
    with pytest.raises(NonFiniteSamplesError):
        encode_audio(samples)


@given(
    samples=valid_audio("float32") | valid_audio("float64"),
    magnitude=st.floats(1.0, 1e30, exclude_min=True),
    sign=st.sampled_from([1.0, -1.0]),
    data=st.data(),
)
def test_out_of_range_floats_are_refused(
    samples: npt.NDArray[np.floating], magnitude: float, sign: float, data: st.DataObject
) -> None:
    samples = samples.copy()
    value = samples.dtype.type(sign * magnitude)
    assume(abs(float(value)) > 1.0)  # float32 may round 1.00000001 to 1.0
    index = data.draw(st.integers(0, len(samples) - 1))
    samples[index] = value
    raw = base64.b64encode(samples.astype(samples.dtype.newbyteorder("<")).tobytes()).decode()
    with pytest.raises(OutOfRangeError) as caught:
        decode_audio(raw, samples.dtype.name)
    assert caught.value.clause == "AUD-4"
    with pytest.raises(OutOfRangeError):
        encode_audio(samples)


@pytest.mark.parametrize("dtype", ALLOWED_DTYPES)
def test_empty_audio_is_refused(dtype: Dtype) -> None:
    with pytest.raises(EmptyAudioError) as caught:
        decode_audio("", dtype)
    assert caught.value.clause == "AUD-3"
    with pytest.raises(EmptyAudioError):
        encode_audio(np.array([], dtype=dtype))


def test_every_defect_is_an_audio_codec_error_and_a_value_error() -> None:
    for error_type in (
        InvalidBase64Error,
        UnknownDtypeError,
        MisalignedLengthError,
        EmptyAudioError,
        NonFiniteSamplesError,
        OutOfRangeError,
    ):
        assert issubclass(error_type, AudioCodecError)
        assert issubclass(error_type, ValueError)


def test_encode_refuses_what_it_cannot_send_faithfully() -> None:
    with pytest.raises(ValueError, match="mono"):
        encode_audio(np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="explicitly"):
        encode_audio(np.zeros(10, dtype=np.float32), "int16")
    with pytest.raises(OutOfRangeError, match="int16 range"):
        encode_audio(np.array([0, 70_000], dtype=np.int32), "int16")
    with pytest.raises(OutOfRangeError, match="int16 range"):
        encode_audio(np.array([40_000], dtype=np.uint16), "int16")


# --- Scaling -------------------------------------------------------------------------------------


@settings(max_examples=50)
@given(samples=valid_audio("int16") | valid_audio("int32"))
def test_to_float32_scales_integers_to_full_scale(samples: npt.NDArray[np.integer]) -> None:
    scaled = to_float32(samples)
    full_scale = 2.0 ** (8 * samples.dtype.itemsize - 1)
    assert scaled.dtype == np.float32
    assert scaled.shape == samples.shape
    # int32's largest value rounds to 1.0 in float32; nothing exceeds full scale.
    assert np.all(scaled >= -1.0)
    assert np.all(scaled <= 1.0)
    np.testing.assert_allclose(scaled, samples / full_scale, rtol=1e-7, atol=0)


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        ("int16", [-32768, 0, 16384, 32767], [-1.0, 0.0, 0.5, 32767 / 32768]),
        ("int32", [-(2**31), 2**30], [-1.0, 0.5]),
        ("float32", [-1.0, 0.25], [-1.0, 0.25]),
        ("float64", [0.1, 1.0], [np.float32(0.1), 1.0]),
    ],
)
def test_to_float32_known_values(dtype: str, values: list[float], expected: list[float]) -> None:
    result = to_float32(np.array(values, dtype=dtype))
    assert result.dtype == np.float32
    assert result.tolist() == np.array(expected, dtype=np.float32).tolist()


def test_decoded_audio_as_float32() -> None:
    decoded = decode_response(encode_response(np.array([-32768, 16384], np.int16), 8000, "int16"))
    assert decoded.as_float32().tolist() == [-1.0, 0.5]


@pytest.mark.parametrize("rate", [MIN_SAMPLE_RATE - 1, MAX_SAMPLE_RATE + 1, 0])
def test_encode_response_refuses_rates_out_of_range(rate: int) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="sample_rate"):
        encode_response(np.zeros(4, dtype=np.float32) + 0.1, rate)
