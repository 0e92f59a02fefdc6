"""The six ``response_format`` encodings of SPEC.md §15, with well-kept libraries.

WAV, FLAC, MP3 and Ogg Opus go through libsndfile (soundfile); AAC in ADTS frames through FFmpeg
(PyAV), since libsndfile has no AAC. ``pcm`` is OpenAI's: signed 16-bit little-endian mono at
24 kHz, so audio at another rate is resampled with soxr first.
"""

from __future__ import annotations

import io
from typing import Final

import av
import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from voicebox_api import SPEECH_PCM_SAMPLE_RATE, SpeechFormat

__all__ = ["MEDIA_TYPES", "encode", "quantize_pcm16", "resample", "to_pcm16"]

FloatAudio = npt.NDArray[np.float32]

MEDIA_TYPES: Final[dict[SpeechFormat, str]] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_SOUNDFILE: Final[dict[str, tuple[str, str]]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "opus": ("OGG", "OPUS"),
}
_OPUS_RATES: Final = (8_000, 12_000, 16_000, 24_000, 48_000)


def resample(samples: FloatAudio, rate: int, target: int) -> FloatAudio:
    if rate == target:
        return samples
    return np.asarray(soxr.resample(samples, rate, target, quality="HQ"), dtype=np.float32)


def to_pcm16(samples: FloatAudio, rate: int) -> bytes:
    """OpenAI's ``pcm``: s16le mono at 24 kHz."""
    return quantize_pcm16(resample(samples, rate, SPEECH_PCM_SAMPLE_RATE))


def quantize_pcm16(samples: FloatAudio) -> bytes:
    """Float samples as s16le bytes, sample by sample (so chunks quantise like the whole)."""
    scaled = np.clip(np.round(samples * 32767.0), -32768, 32767)
    return scaled.astype("<i2").tobytes()


def encode(samples: FloatAudio, rate: int, response_format: SpeechFormat) -> bytes:
    """The whole file in ``response_format``."""
    if response_format == "pcm":
        return to_pcm16(samples, rate)
    if response_format == "aac":
        return _aac(samples, rate)
    if response_format == "opus" and rate not in _OPUS_RATES:
        samples, rate = resample(samples, rate, SPEECH_PCM_SAMPLE_RATE), SPEECH_PCM_SAMPLE_RATE
    container, subtype = _SOUNDFILE[response_format]
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(samples, -1.0, 1.0), rate, format=container, subtype=subtype)
    return buffer.getvalue()


def _aac(samples: FloatAudio, rate: int) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="adts") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.clip(samples, -1.0, 1.0).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
