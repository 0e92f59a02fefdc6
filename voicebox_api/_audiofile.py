"""Audio files in memory: the uploads of ``/v1/create_voice_prompt`` and ``/v1/transcribe``.

Formats are sniffed from the bytes, never taken from a filename (SPEC.md §5).
"""

from __future__ import annotations

import io
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

from voicebox_api._models import AudioFormat

__all__ = ["UndecodableAudioError", "read_audio", "write_audio"]

_SUBTYPES: Final[dict[AudioFormat, tuple[str, str]]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}


class UndecodableAudioError(ValueError):
    """The bytes are not audio in WAV, FLAC, Ogg Vorbis or MP3, or hold no samples."""


def read_audio(data: bytes) -> tuple[npt.NDArray[np.float32], int]:
    """Decode an uploaded file to mono float32 samples and their sample rate."""
    if not data:
        raise UndecodableAudioError("the upload is empty")
    try:
        samples, sample_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise UndecodableAudioError(
            f"not a WAV, FLAC, Ogg Vorbis or MP3 file ({_reason(exc)})"
        ) from None
    if samples.shape[0] == 0:
        raise UndecodableAudioError("the audio file holds no samples")
    mono = samples.mean(axis=1, dtype=np.float32)
    if not np.isfinite(mono).all():
        raise UndecodableAudioError("the audio file holds non-finite samples")
    return mono, int(sample_rate)


def write_audio(
    samples: npt.ArrayLike, sample_rate: int, audio_format: AudioFormat = "wav"
) -> bytes:
    """Encode samples (mono, or frames x channels) as a file of the given format."""
    container, subtype = _SUBTYPES[audio_format]
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(samples), sample_rate, format=container, subtype=subtype)
    return buffer.getvalue()


def _reason(exc: BaseException) -> str:
    # libsndfile's messages can name a temporary file; keep only the library's reason.
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.split(": ")[-1][:120]
