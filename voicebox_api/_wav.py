"""The binary answer of ``/v1/generate``: the whole clip as a WAV file (SPEC.md BIN-1).

Written by hand, not through libsndfile: a 44-byte header before the raw samples costs nothing
and keeps the bytes exactly the samples of the JSON answer. Read with soundfile, keeping the dtype.
"""

from __future__ import annotations

import io
import struct
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

from voicebox_api._codec import DecodedAudio
from voicebox_api._models import Dtype

__all__ = ["WavAnswerError", "decode_wav", "encode_wav"]

_PCM: Final = 1
_IEEE_FLOAT: Final = 3
_FORMAT_TAGS: Final[dict[str, int]] = {
    "int16": _PCM,
    "int32": _PCM,
    "float32": _IEEE_FLOAT,
    "float64": _IEEE_FLOAT,
}
_SUBTYPE_DTYPES: Final[dict[str, Dtype]] = {
    "PCM_16": "int16",
    "PCM_32": "int32",
    "FLOAT": "float32",
    "DOUBLE": "float64",
}


class WavAnswerError(ValueError):
    """The bytes are not a mono WAV file of one of the allowed sample types."""


def encode_wav(samples: npt.ArrayLike, sample_rate: int, dtype: Dtype = "float32") -> bytes:
    """A mono RIFF/WAVE file holding ``samples`` as ``dtype`` (little-endian)."""
    wire = np.asarray(samples).astype(np.dtype(dtype).newbyteorder("<"), copy=False)
    width = wire.dtype.itemsize
    data = wire.tobytes()
    fmt = struct.pack(
        "<HHIIHH", _FORMAT_TAGS[dtype], 1, sample_rate, sample_rate * width, width, 8 * width
    )
    header = b"".join(
        (
            b"RIFF",
            struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)),
            b"WAVEfmt ",
            struct.pack("<I", len(fmt)),
            fmt,
            b"data",
            struct.pack("<I", len(data)),
        )
    )
    return header + data


def decode_wav(data: bytes) -> DecodedAudio:
    """The samples of a mono WAV answer, in the dtype the file stores."""
    try:
        info = sf.info(io.BytesIO(data))
        if info.format != "WAV" or info.channels != 1 or info.subtype not in _SUBTYPE_DTYPES:
            raise WavAnswerError(
                f"expected a mono WAV of int16, int32, float32 or float64; got {info.format} "
                f"{info.subtype} with {info.channels} channel(s)"
            )
        dtype = _SUBTYPE_DTYPES[info.subtype]
        samples, rate = sf.read(io.BytesIO(data), dtype=dtype, always_2d=False)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise WavAnswerError(f"not a WAV file ({str(exc).splitlines()[0][:120]})") from None
    return DecodedAudio(samples=np.asarray(samples), sample_rate=int(rate), dtype=dtype)
