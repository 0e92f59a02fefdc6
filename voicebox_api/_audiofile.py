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

__all__ = ["AudioTooLargeError", "UndecodableAudioError", "read_audio", "write_audio"]

_SUBTYPES: Final[dict[AudioFormat, tuple[str, str]]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}


class UndecodableAudioError(ValueError):
    """The bytes are not audio in WAV, FLAC, Ogg Vorbis or MP3, or hold no samples."""


class AudioTooLargeError(ValueError):
    """The file decodes to more than the caller allows: too many seconds, or too many samples.

    Raised from the header, before anything is decoded, whenever the header tells; a header
    that understates its length is caught by the capped read. A few hundred kilobytes of FLAC
    silence can declare gigabytes of samples (a decompression bomb).
    """

    def __init__(self, message: str, *, too_long: bool) -> None:
        super().__init__(message)
        self.too_long = too_long


def read_audio(
    data: bytes, *, max_samples: int | None = None, max_seconds: float | None = None
) -> tuple[npt.NDArray[np.float32], int]:
    """Decode an uploaded file to mono float32 samples and their sample rate.

    ``max_samples`` bounds frames x channels, ``max_seconds`` the duration; both are checked
    from the header before decoding, and the decode itself never reads past ``max_samples``.
    """
    if not data:
        raise UndecodableAudioError("the upload is empty")
    try:
        with sf.SoundFile(io.BytesIO(data)) as audio:
            _check_header(audio, max_samples, max_seconds)
            frames = -1 if max_samples is None else max_samples // audio.channels + 1
            samples = audio.read(frames, dtype="float32", always_2d=True)
            sample_rate = audio.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        if isinstance(exc, (AudioTooLargeError, UndecodableAudioError)):
            raise
        raise UndecodableAudioError(
            f"not a WAV, FLAC, Ogg Vorbis or MP3 file ({_reason(exc)})"
        ) from None
    if max_samples is not None and samples.size > max_samples:
        raise AudioTooLargeError(_too_many(samples.size, max_samples), too_long=False)
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


def _check_header(audio: sf.SoundFile, max_samples: int | None, max_seconds: float | None) -> None:
    if audio.samplerate <= 0 or audio.channels <= 0:
        raise UndecodableAudioError("the audio header declares no sample rate or channels")
    declared = audio.frames * audio.channels
    if max_samples is not None and declared > max_samples:
        raise AudioTooLargeError(_too_many(declared, max_samples), too_long=False)
    seconds = audio.frames / audio.samplerate
    if max_seconds is not None and seconds > max_seconds:
        raise AudioTooLargeError(
            f"the audio lasts {seconds:.0f} s; this server takes at most {max_seconds:.0f} s",
            too_long=True,
        )


def _too_many(samples: int, limit: int) -> str:
    return (
        f"the audio decodes to {samples} samples (frames x channels); this server takes at "
        f"most {limit}"
    )


def _reason(exc: BaseException) -> str:
    # libsndfile's messages can name a temporary file; keep only the library's reason.
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.split(": ")[-1][:120]
