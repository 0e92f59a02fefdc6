"""The bridge's voice prompt: the reference recording itself, compressed, and its transcript.

Self-contained, so that any bridge instance in front of any upstream can use it: FLAC at 16 kHz
(lossless for speech) while that fits the budget, else Ogg Opus at 24 kHz, so that even a
one-minute reference stays well under VP-9's 1 MiB. References longer than 30 s are cut: the
cloning models take a few seconds of reference.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from reference_server.backends.base import VoicePromptError

__all__ = ["ENGINE", "BridgeVoice", "make_prompt", "parse_prompt"]

ENGINE: Final = "openai-speech"
VERSION: Final = 1
MAX_REFERENCE_S: Final = 30.0
_FLAC_BUDGET: Final = 600 * 1024
"""Encoded bytes (before base64) under which the reference is kept lossless."""
_MAX_AUDIO_BYTES: Final = 768 * 1024
_MEDIA: Final = {"flac": "audio/flac", "ogg": "audio/ogg"}


@dataclass(frozen=True)
class BridgeVoice:
    audio: bytes
    audio_format: str
    ref_text: str

    @property
    def data_url(self) -> str:
        encoded = base64.b64encode(self.audio).decode("ascii")
        return f"data:{_MEDIA[self.audio_format]};base64,{encoded}"


def _encode(samples: npt.NDArray[np.float32], rate: int, fmt: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def _compressed(audio: npt.NDArray[np.float32], sample_rate: int) -> tuple[bytes, str]:
    audio = np.clip(audio[: int(MAX_REFERENCE_S * sample_rate)], -1.0, 1.0)
    at_16k = np.asarray(soxr.resample(audio, sample_rate, 16_000), dtype=np.float32)
    flac = _encode(at_16k, 16_000, "FLAC", "PCM_16")
    if len(flac) <= _FLAC_BUDGET:
        return flac, "flac"
    at_24k = np.asarray(soxr.resample(audio, sample_rate, 24_000), dtype=np.float32)
    return _encode(at_24k, 24_000, "OGG", "OPUS"), "ogg"


def make_prompt(
    audio: npt.NDArray[np.float32], sample_rate: int, reference_text: str
) -> dict[str, Any]:
    data, fmt = _compressed(audio, sample_rate)
    return {
        "engine": ENGINE,
        "version": VERSION,
        "ref_audio": {"format": fmt, "data": base64.b64encode(data).decode("ascii")},
        "ref_text": reference_text,
    }


def parse_prompt(prompt: dict[str, Any]) -> BridgeVoice:
    if prompt.get("engine") != ENGINE or prompt.get("version") != VERSION:
        raise VoicePromptError("the voice prompt was not made by this server's backend")
    ref = prompt.get("ref_audio")
    text = prompt.get("ref_text")
    if not isinstance(ref, dict) or not isinstance(text, str) or ref.get("format") not in _MEDIA:
        raise VoicePromptError("the voice prompt is incomplete: ref_audio or ref_text")
    data = ref.get("data")
    if not isinstance(data, str) or len(data) > _MAX_AUDIO_BYTES * 4 // 3 + 4:
        raise VoicePromptError("the voice prompt's ref_audio is missing or too large")
    try:
        audio = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise VoicePromptError("the voice prompt's ref_audio is not base64") from None
    if not audio:
        raise VoicePromptError("the voice prompt's ref_audio is empty")
    return BridgeVoice(audio=audio, audio_format=str(ref["format"]), ref_text=text)
