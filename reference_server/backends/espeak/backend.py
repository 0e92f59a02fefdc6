"""The weight-free TTS backend: espeak-ng, steered towards the reference voice.

espeak-ng cannot clone a voice. It can choose among its voice variants and move pitch, pitch
range and rate, and its output can be equalised; the voice prompt holds the reference's pitch,
speaking rate and long-term spectrum, and generation maps them onto those controls (see
``steering``). The effect is measurable with a speaker-embedding model (SPEC.md SPK-1).

Streaming (SPEC.md §14) is sentence by sentence: the post-processing resamples (vari-speed by
spectrum truncation) and normalises the peak over a whole utterance, so a sentence is the smallest
piece that can leave before the rest is made. Every clip is made that way, streamed or not, so a
seeded stream is bit-identical to the whole clip; a one-sentence text is one utterance, as before.

libespeak-ng is driven through a small hand-written ctypes binding in a fork-server process
(``_worker``, ``_engine``): no maintained Python binding produces audio from the library that
espeakng-loader bundles, and only a fresh fork per utterance makes espeak-ng bit-reproducible.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np

from reference_server.backends.base import (
    BackendError,
    FloatAudio,
    GenerateJob,
    Synthesis,
    UnsupportedLanguageError,
    VoicePromptError,
)
from reference_server.backends.espeak import _dsp, _engine
from reference_server.backends.espeak.features import (
    SPECTRUM_BAND_EDGES_HZ,
    ReferenceTooWeakError,
    VoiceFeatures,
    measure_voice,
)
from reference_server.backends.espeak.prompt import dump_prompt, parse_prompt
from reference_server.backends.espeak.steering import (
    VoiceSettings,
    jitter_for_seed,
    settings_for,
)
from reference_server.backends.espeak.voices import LANGUAGE_VOICES, voice_name
from reference_server.backends.sentences import split_sentences

__all__ = ["EspeakBackend", "EspeakVoice"]

MIN_REFERENCE_SECONDS: Final = 1.0
MIN_REFERENCE_RATE: Final = 8_000
MAX_REFERENCE_RATE: Final = 48_000
_OUTPUT_PEAK: Final = 0.89  # -1 dBFS: headroom against clipping after resampling
_MAX_SEED: Final = 2**32 - 1
_SYNTHESIS_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True)
class EspeakVoice:
    """A parsed voice prompt: the reference's features and the settings derived from them."""

    features: VoiceFeatures
    settings: VoiceSettings


class EspeakBackend:
    """``TTSBackend`` over espeak-ng (see ``reference_server.backends.base``)."""

    name = "espeak"
    device = "cpu"
    deterministic = True
    max_batch_size = 1
    stream_granularity = "sentence"
    languages: tuple[str, ...] = tuple(LANGUAGE_VOICES)

    def __init__(self) -> None:
        info = _engine.engine_info()
        self.sample_rate: int = info.sample_rate
        self.model: str = f"espeak-ng {info.version} (espeakng-loader)"

    def create_voice_prompt(
        self, audio: FloatAudio, sample_rate: int, reference_text: str
    ) -> dict[str, Any]:
        """Measure the reference voice; ``reference_text`` is not needed and is ignored."""
        del reference_text
        samples = _checked_reference(audio, sample_rate)
        try:
            features = measure_voice(samples, sample_rate)
        except ReferenceTooWeakError as exc:
            raise BackendError(str(exc)) from None
        return dump_prompt(features)

    def parse_voice_prompt(self, prompt: dict[str, Any]) -> EspeakVoice:
        """Validate a prompt made by ``create_voice_prompt`` and derive the espeak settings."""
        features = parse_prompt(prompt)
        return EspeakVoice(features=features, settings=settings_for(features))

    def generate(self, jobs: Sequence[GenerateJob]) -> list[Synthesis]:
        return [self._generate_one(job) for job in jobs]

    def stream(self, job: GenerateJob) -> Iterator[Synthesis]:
        """One piece per sentence, as each is synthesised (see the module's docstring)."""
        request = self._request_for(job)
        settings, jitter = self._voice_of(job).settings, jitter_for_seed(request.seed_of_job)
        spoke = False
        for sentence in split_sentences(request.text):
            raw = _engine.synthesize(replace(request.synthesis, text=sentence))
            if np.any(raw):
                spoke = True
                yield self._post_process(raw, settings, jitter.speed_factor)
        if not spoke:
            # Only punctuation or symbols espeak does not name, such as "?!": read the marks.
            raw = _engine.synthesize(replace(request.synthesis, read_punctuation=True))
            if not np.any(raw):
                raise BackendError("espeak-ng found nothing to speak in this text")
            yield self._post_process(raw, settings, jitter.speed_factor)

    def close(self) -> None:
        _engine.shutdown()

    def _generate_one(self, job: GenerateJob) -> Synthesis:
        pieces = list(self.stream(job))
        if len(pieces) == 1:
            return pieces[0]
        samples = np.concatenate([piece.samples for piece in pieces])
        return Synthesis(samples=samples, sample_rate=self.sample_rate)

    def _voice_of(self, job: GenerateJob) -> EspeakVoice:
        if job.language not in LANGUAGE_VOICES:
            raise UnsupportedLanguageError(
                f"language {job.language[:16]!r} is not supported; supported: "
                f"{', '.join(self.languages)}"
            )
        if not isinstance(job.voice, EspeakVoice):
            raise VoicePromptError("the voice was not parsed by the espeak backend")
        return job.voice

    def _request_for(self, job: GenerateJob) -> _PlannedSynthesis:
        settings = self._voice_of(job).settings
        text = _speakable(job.text)
        seed = job.seed if job.seed is not None else secrets.randbelow(_MAX_SEED + 1)
        jitter = jitter_for_seed(seed)
        synthesis = _engine.SynthesisRequest(
            text=text,
            voice=voice_name(job.language, settings.variant),
            rate=round(settings.rate_wpm * jitter.rate_factor),
            pitch=settings.pitch,
            range=settings.pitch_range,
            seed=jitter.noise_seed,
            timeout=_SYNTHESIS_TIMEOUT_S,
        )
        return _PlannedSynthesis(text=text, seed_of_job=seed, synthesis=synthesis)

    def _post_process(
        self, raw: np.ndarray[Any, np.dtype[np.int16]], settings: VoiceSettings, speed: float
    ) -> Synthesis:
        samples = raw.astype(np.float64) / 32768.0
        samples = _dsp.equalise(
            samples, self.sample_rate, SPECTRUM_BAND_EDGES_HZ, settings.eq_gains_db
        )
        samples = _dsp.vary_speed(samples, speed)
        return Synthesis(
            samples=_dsp.normalise_peak(samples, _OUTPUT_PEAK), sample_rate=self.sample_rate
        )


@dataclass(frozen=True)
class _PlannedSynthesis:
    text: str
    seed_of_job: int
    synthesis: _engine.SynthesisRequest


def _checked_reference(audio: FloatAudio, sample_rate: int) -> FloatAudio:
    if not MIN_REFERENCE_RATE <= sample_rate <= MAX_REFERENCE_RATE:
        raise BackendError(
            f"reference audio at {sample_rate} Hz is not supported; "
            f"{MIN_REFERENCE_RATE}-{MAX_REFERENCE_RATE} Hz is"
        )
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise BackendError("reference audio must be mono")
    if not np.isfinite(samples).all():
        raise BackendError("reference audio holds non-finite samples")
    seconds = samples.size / sample_rate
    if seconds < MIN_REFERENCE_SECONDS:
        raise BackendError(
            f"the reference audio is {seconds:.2f} s long; at least "
            f"{MIN_REFERENCE_SECONDS:.0f} s of speech is needed"
        )
    return samples


def _speakable(text: str) -> str:
    """The text without control characters (espeak reads a C string: NUL would cut it)."""
    cleaned = "".join(
        " " if unicodedata.category(char) in {"Cc", "Cs"} else char for char in text
    ).strip()
    if not cleaned:
        raise BackendError("the text has nothing to speak")
    return cleaned
