"""The audio codec: numpy samples <-> the wire form of ``/v1/generate`` (SPEC.md AUD-1..4).

On the wire, ``audio`` is standard, padded base64 (RFC 4648 section 4) of raw little-endian mono
PCM, and ``dtype`` names the sample type. Decoding checks every invariant and raises one precise
error per defect, so that a client, a check or a benchmark can say exactly what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from voicebox_api._models import ALLOWED_DTYPES, Dtype, GenerateResponse

__all__ = [
    "AudioCodecError",
    "DecodedAudio",
    "EmptyAudioError",
    "InvalidBase64Error",
    "MisalignedLengthError",
    "NonFiniteSamplesError",
    "OutOfRangeError",
    "UnknownDtypeError",
    "decode_audio",
    "decode_base64",
    "decode_response",
    "encode_audio",
    "encode_response",
    "to_float32",
]


class AudioCodecError(ValueError):
    """Base class: the audio payload breaks one of SPEC.md's AUD clauses."""

    clause: str = "AUD"


class InvalidBase64Error(AudioCodecError):
    clause = "AUD-1"


class UnknownDtypeError(AudioCodecError):
    clause = "AUD-2"


class MisalignedLengthError(AudioCodecError):
    clause = "AUD-3"


class EmptyAudioError(AudioCodecError):
    clause = "AUD-3"


class NonFiniteSamplesError(AudioCodecError):
    clause = "AUD-4"


class OutOfRangeError(AudioCodecError):
    clause = "AUD-4"


@dataclass(frozen=True)
class DecodedAudio:
    """Mono PCM samples in their wire dtype, with their sample rate."""

    samples: npt.NDArray[np.generic]
    sample_rate: int
    dtype: Dtype

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    def as_float32(self) -> npt.NDArray[np.float32]:
        return to_float32(self.samples)


def _numpy_dtype(dtype: str) -> np.dtype[np.generic]:
    if dtype not in ALLOWED_DTYPES:
        raise UnknownDtypeError(
            f"dtype {dtype!r} is not allowed; expected one of {', '.join(ALLOWED_DTYPES)}"
        )
    return np.dtype(dtype).newbyteorder("<")


def _check_samples(samples: npt.NDArray[np.generic]) -> None:
    if samples.size == 0:
        raise EmptyAudioError("audio holds no samples")
    if samples.dtype.kind != "f":
        return
    finite = np.isfinite(samples)
    if not finite.all():
        index = int(np.argmin(finite))
        raise NonFiniteSamplesError(
            f"{int((~finite).sum())} non-finite samples (NaN or infinity); first at index {index}"
        )
    peak_index = int(np.argmax(np.abs(samples)))
    peak = float(np.abs(samples[peak_index]))
    if peak > 1.0:
        raise OutOfRangeError(
            f"float samples must lie in [-1, 1]; sample {peak_index} is {samples[peak_index]!r}"
        )


def encode_audio(samples: npt.ArrayLike, dtype: Dtype | None = None) -> str:
    """Encode mono samples as the wire's base64 string.

    With ``dtype`` the samples are cast to it; without, their own dtype must be allowed.
    Invalid audio (empty, non-finite, out of range) is refused rather than sent.
    """
    array = np.asarray(samples)
    if array.ndim != 1:
        raise ValueError(f"audio must be mono (1-D); got shape {array.shape}")
    target = _numpy_dtype(dtype if dtype is not None else str(array.dtype))
    if array.dtype.kind == "f" and target.kind == "i":
        raise ValueError("cast float samples to integers explicitly (scaling is the caller's)")
    if array.dtype.kind in "iu" and target.kind == "i":
        _check_fits(array, target)
    wire = array.astype(target, copy=False)
    _check_samples(wire)
    return base64.b64encode(wire.tobytes()).decode("ascii")


def _check_fits(array: npt.NDArray[np.generic], target: np.dtype[np.generic]) -> None:
    """Refuse an integer cast that would wrap around (int32 70000 as int16, say)."""
    if array.size == 0:
        return
    bounds = np.iinfo(target.name)
    low, high = int(array.min()), int(array.max())
    if low < bounds.min or high > bounds.max:
        raise OutOfRangeError(
            f"samples span [{low}, {high}], beyond the {target.name} range "
            f"[{bounds.min}, {bounds.max}]"
        )


def decode_audio(audio: str, dtype: str) -> npt.NDArray[np.generic]:
    """Decode the wire's base64 string into native-endian samples, checking AUD-1..4."""
    np_dtype = _numpy_dtype(dtype)
    raw = decode_base64(audio)
    if len(raw) % np_dtype.itemsize:
        raise MisalignedLengthError(
            f"{len(raw)} bytes is not a multiple of the {np_dtype.itemsize}-byte {dtype} sample"
        )
    samples = np.frombuffer(raw, dtype=np_dtype).astype(np_dtype.newbyteorder("="))
    _check_samples(samples)
    return cast(npt.NDArray[np.generic], samples)


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")
_HINTS = {
    "\n": " (line breaks are not allowed)",
    "\r": " (line breaks are not allowed)",
    "-": " ('-' and '_' are the URL-safe alphabet; the wire uses '+' and '/')",
    "_": " ('-' and '_' are the URL-safe alphabet; the wire uses '+' and '/')",
}


def decode_base64(audio: str) -> bytes:
    """Standard padded base64 (RFC 4648 section 4), canonical, with one message per defect."""
    try:
        raw = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):  # ValueError: a non-ASCII character
        raise InvalidBase64Error(_base64_defect(audio)) from None
    if len(audio) % 4:
        raise InvalidBase64Error(_length_defect(audio))
    # Strict decoding leaves two non-canonical forms, both at the end: whole groups of '='
    # and non-zero unused bits in the last group.
    last_group = raw[-(len(raw) % 3 or 3) :]
    if len(audio) != 4 * -(-len(raw) // 3) or base64.b64encode(last_group).decode() != audio[-4:]:
        raise InvalidBase64Error(
            "audio is not canonical base64: padding beyond the last group, or non-zero unused bits"
        )
    return raw


def _base64_defect(audio: str) -> str:
    """Say precisely why strict decoding refused ``audio``."""
    stray = _NOT_BASE64.search(audio)
    if stray is not None:
        char = stray.group()
        return (
            f"audio holds {char!r} at index {stray.start()}, outside the standard base64 "
            f"alphabet{_HINTS.get(char, '')}"
        )
    if len(audio) % 4:
        return _length_defect(audio)
    try:
        base64.b64decode(audio, validate=True)
    except binascii.Error as exc:
        return f"audio has misplaced '=' padding ({exc})"
    return "audio is not standard base64"


def _length_defect(audio: str) -> str:
    return (
        f"audio is {len(audio)} characters, not a multiple of 4: padded base64 comes in "
        "whole groups of 4 (missing or extra '=')"
    )


def to_float32(samples: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    """Scale any allowed dtype to float32 in [-1, 1] for analysis."""
    if samples.dtype.kind == "i":
        scale = float(2 ** (8 * samples.dtype.itemsize - 1))
        return (samples.astype(np.float64) / scale).astype(np.float32)
    return samples.astype(np.float32)


def encode_response(
    samples: npt.ArrayLike, sample_rate: int, dtype: Dtype = "float32"
) -> GenerateResponse:
    """Build a ``/v1/generate`` response body from mono samples."""
    return GenerateResponse(
        audio=encode_audio(samples, dtype), sample_rate=sample_rate, dtype=dtype
    )


def decode_response(response: GenerateResponse) -> DecodedAudio:
    """Decode and check a ``/v1/generate`` response body."""
    samples = decode_audio(response.audio, response.dtype)
    return DecodedAudio(samples=samples, sample_rate=response.sample_rate, dtype=response.dtype)
