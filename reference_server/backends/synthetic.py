"""A weight-free, deterministic stand-in for a TTS model, for measuring the serving layer.

It speaks in tones: every character of the text becomes a short harmonic burst (whitespace a
short pause) at 24 kHz float32, so the duration follows the text length. Its voice prompt is a
small JSON object of features measured on the reference audio (pitch, brightness, loudness) plus
a checksum, so prompts are real, steer the output, and anything it did not produce is refused.
An optional fixed latency per call and a real-time factor make it behave like a slow model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import zlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from reference_server.backends.base import (
    BackendError,
    GenerateJob,
    Synthesis,
    VoicePromptError,
)

__all__ = ["SyntheticBackend", "SyntheticVoice"]

SAMPLE_RATE: Final = 24_000
LANGUAGES: Final = ("en", "zh", "ja", "ko", "de", "fr", "ru", "pt", "es", "it")
PROMPT_KIND: Final = "synthetic-voice/1"
CHAR_SECONDS: Final = 0.065
EDGE_SECONDS: Final = 0.08
PEAK: Final = 0.5
MIN_REFERENCE_SECONDS: Final = 0.1
_F0_RANGE: Final = (60.0, 400.0)
_DEFAULT_F0: Final = 140.0
_ANALYSIS_SECONDS: Final = 30.0
_FIELDS: Final = frozenset({"kind", "f0_hz", "brightness", "rms", "check"})


@dataclass(frozen=True)
class SyntheticVoice:
    """A parsed, validated synthetic voice prompt."""

    f0_hz: float
    brightness: float
    rms: float
    check: str


class SyntheticBackend:
    """Implements ``TTSBackend``; see the module docstring."""

    name = "synthetic"
    model = "synthetic-tones-24k"
    device = "cpu"
    sample_rate = SAMPLE_RATE
    languages: tuple[str, ...] = LANGUAGES
    deterministic = True

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        rtf: float = 0.0,
        max_batch_size: int = 1,
        languages: Sequence[str] = LANGUAGES,
    ) -> None:
        if latency_s < 0 or rtf < 0 or max_batch_size < 1:
            raise ValueError("latency and rtf must be >= 0 and max_batch_size >= 1")
        unknown_languages = set(languages) - set(LANGUAGES)
        if not languages or unknown_languages:
            raise ValueError(f"languages must be a non-empty subset of {', '.join(LANGUAGES)}")
        self.languages = tuple(languages)
        self.latency_s = latency_s
        self.rtf = rtf
        self.max_batch_size = max_batch_size
        self.calls: int = 0

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> SyntheticBackend:
        """Options: ``latency_ms`` (per call), ``rtf`` (sleep per second of audio made),
        ``max_batch_size``, ``languages`` (``+``-separated, e.g. ``en+fr``: a provider that
        speaks fewer languages, for routing tests)."""
        unknown = set(options) - {"latency_ms", "rtf", "max_batch_size", "languages"}
        if unknown:
            raise ValueError(f"unknown synthetic backend option(s): {', '.join(sorted(unknown))}")
        return cls(
            latency_s=float(options.get("latency_ms", "0")) / 1000.0,
            rtf=float(options.get("rtf", "0")),
            max_batch_size=int(options.get("max_batch_size", "1")),
            languages=tuple(options.get("languages", "+".join(LANGUAGES)).split("+")),
        )

    # --- voice prompts -----------------------------------------------------------------------

    def create_voice_prompt(
        self, audio: npt.NDArray[np.float32], sample_rate: int, reference_text: str
    ) -> dict[str, Any]:
        if audio.shape[0] < MIN_REFERENCE_SECONDS * sample_rate:
            raise BackendError(f"the reference audio is shorter than {MIN_REFERENCE_SECONDS} s")
        clip = np.asarray(audio[: int(_ANALYSIS_SECONDS * sample_rate)], dtype=np.float64)
        features = {
            "f0_hz": round(_estimate_f0(clip, sample_rate), 3),
            "brightness": round(_brightness(clip, sample_rate), 4),
            "rms": round(float(np.sqrt(np.mean(clip**2))), 6),
        }
        return {"kind": PROMPT_KIND, **features, "check": _checksum(features)}

    def parse_voice_prompt(self, prompt: dict[str, Any]) -> SyntheticVoice:
        if set(prompt) != _FIELDS or prompt.get("kind") != PROMPT_KIND:
            raise VoicePromptError("this voice prompt was not made by the synthetic backend")
        features = {key: prompt[key] for key in ("f0_hz", "brightness", "rms")}
        if not all(_is_finite_number(value) for value in features.values()):
            raise VoicePromptError("the voice prompt's features must be finite numbers")
        if prompt["check"] != _checksum(features):
            raise VoicePromptError("the voice prompt's checksum does not match; it was altered")
        f0, brightness, rms = (float(features[key]) for key in ("f0_hz", "brightness", "rms"))
        if not (_F0_RANGE[0] <= f0 <= _F0_RANGE[1] and 0 <= brightness <= 1 and 0 <= rms <= 1):
            raise VoicePromptError("the voice prompt's features are out of range")
        return SyntheticVoice(f0_hz=f0, brightness=brightness, rms=rms, check=prompt["check"])

    # --- generation ----------------------------------------------------------------------------

    def batch_key(self, job: GenerateJob) -> Hashable:
        """Jobs of one language may share a batch (exercises the scheduler's grouping)."""
        return job.language

    def generate(self, jobs: Sequence[GenerateJob]) -> list[Synthesis]:
        if len(jobs) > self.max_batch_size:
            raise ValueError(f"batch of {len(jobs)} exceeds max_batch_size {self.max_batch_size}")
        self.calls += 1
        results = [self._synthesise(job) for job in jobs]
        audio_seconds = sum(result.samples.shape[0] for result in results) / SAMPLE_RATE
        delay = self.latency_s + self.rtf * audio_seconds
        if delay > 0:
            time.sleep(delay)
        return results

    def close(self) -> None:
        return None

    def _synthesise(self, job: GenerateJob) -> Synthesis:
        voice = job.voice
        if not isinstance(voice, SyntheticVoice):
            raise VoicePromptError("the job's voice was not parsed by the synthetic backend")
        if job.language not in self.languages:
            raise BackendError(f"language {job.language!r} is not supported")
        rng = np.random.default_rng(_entropy(job, voice))
        return Synthesis(samples=_render(job.text, voice, rng), sample_rate=SAMPLE_RATE)


def _render(text: str, voice: SyntheticVoice, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    symbols = " ".join(text.split())
    per_char = int(CHAR_SECONDS * SAMPLE_RATE)
    codes = np.frombuffer(symbols.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    voiced = np.array([not ch.isspace() for ch in symbols], dtype=bool)
    # Each character gets its own pitch around the voice's f0: the text shapes the melody.
    ratios = 1.0 + 0.12 * (((codes * 2654435761) % 997) / 997.0 - 0.5)
    f0 = np.repeat(voice.f0_hz * ratios, per_char)
    gate = np.repeat(voiced.astype(np.float64), per_char)
    ramp = np.minimum(1.0, np.minimum(np.arange(per_char), np.arange(per_char)[::-1]) / 120.0)
    envelope = gate * np.tile(ramp, len(symbols))
    phase = 2.0 * math.pi * np.cumsum(f0) / SAMPLE_RATE
    harmonics = sum((voice.brightness**k) * np.sin((k + 1) * phase) / (k + 1) for k in range(6))
    noise = rng.standard_normal(phase.shape[0]) * 0.04
    body = envelope * (np.asarray(harmonics) + noise)
    edge = np.zeros(int(EDGE_SECONDS * SAMPLE_RATE))
    signal = np.concatenate([edge, body, edge])
    signal -= signal.mean()
    peak = float(np.max(np.abs(signal))) or 1.0
    return (signal * (PEAK / peak)).astype(np.float32)


def _entropy(job: GenerateJob, voice: SyntheticVoice) -> list[int]:
    if job.seed is None:
        return [int.from_bytes(os.urandom(8), "little")]
    text = zlib.crc32(job.text.encode("utf-8"))
    return [job.seed, text, zlib.crc32(job.language.encode()), int(voice.check, 16)]


def _checksum(features: Mapping[str, Any]) -> str:
    # Floats, so that a client that re-serialises 140.0 as 140 (JavaScript) keeps a valid prompt.
    values = {key: float(value) for key, value in features.items()}
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{PROMPT_KIND}|{canonical}".encode()).hexdigest()[:16]


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _estimate_f0(clip: npt.NDArray[np.float64], sample_rate: int) -> float:
    """Median autocorrelation pitch of the loudest 40 ms frames; a default when unvoiced."""
    frame = int(0.04 * sample_rate)
    count = clip.shape[0] // frame
    if count == 0:
        return _DEFAULT_F0
    frames = clip[: count * frame].reshape(count, frame)
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = np.sum(frames**2, axis=1)
    loud = frames[np.argsort(energy)[::-1][: min(40, count)]]
    loud = loud[np.sum(loud**2, axis=1) > 1e-8]
    if loud.shape[0] == 0:
        return _DEFAULT_F0
    spectrum = np.fft.rfft(loud, n=2 * frame, axis=1)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :frame]
    low, high = int(sample_rate / _F0_RANGE[1]), int(sample_rate / _F0_RANGE[0])
    high = min(high, frame - 1)
    if high <= low:
        return _DEFAULT_F0
    lags = low + np.argmax(autocorr[:, low:high], axis=1)
    pitch = float(np.median(sample_rate / lags))
    return min(max(pitch, _F0_RANGE[0]), _F0_RANGE[1])


def _brightness(clip: npt.NDArray[np.float64], sample_rate: int) -> float:
    """Spectral centroid as a fraction of the Nyquist frequency, squeezed into [0.1, 0.9]."""
    spectrum = np.abs(np.fft.rfft(clip[: 10 * sample_rate]))
    total = float(spectrum.sum())
    if total <= 0:
        return 0.5
    bins = int(spectrum.shape[0])
    centroid = float((spectrum * np.arange(bins)).sum()) / total / bins
    return 0.1 + 0.8 * min(1.0, centroid * 4.0)
