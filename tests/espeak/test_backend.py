"""The espeak backend against the TTSBackend contract and SPEC.md's audio requirements."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from conformance.engine.references import ReferenceClip
from reference_server.backends.base import (
    BackendError,
    GenerateJob,
    Synthesis,
    TTSBackend,
    UnsupportedLanguageError,
    VoicePromptError,
)
from reference_server.backends.espeak import EspeakBackend, EspeakVoice

QWEN_LANGUAGES = ("zh", "en", "ja", "ko", "de", "fr", "ru", "pt", "es", "it")

SENTENCES = {
    "en": "Good morning, how are you today?",
    "zh": "你好，今天天气很好。",
    "ja": "こんにちは、お元気ですか。",
    "ko": "안녕하세요, 오늘 날씨가 좋네요.",
    "de": "Guten Morgen, wie geht es dir heute?",
    "fr": "Bonjour, comment allez-vous aujourd'hui ?",
    "ru": "Доброе утро, как у вас дела?",
    "pt": "Bom dia, como você está hoje?",
    "es": "Buenos días, ¿cómo estás hoy?",
    "it": "Buongiorno, come stai oggi?",
    "nl": "Goedemorgen, hoe gaat het vandaag?",
    "pl": "Dzień dobry, jak się dzisiaj masz?",
    "sv": "God morgon, hur mår du i dag?",
    "da": "Godmorgen, hvordan har du det i dag?",
    "fi": "Hyvää huomenta, mitä kuuluu tänään?",
    "cs": "Dobré ráno, jak se dnes máte?",
    "el": "Καλημέρα, πώς είσαι σήμερα;",
    "tr": "Günaydın, bugün nasılsın?",
    "uk": "Доброго ранку, як справи сьогодні?",
    "hi": "सुप्रभात, आज आप कैसे हैं?",
    "vi": "Chào buổi sáng, hôm nay bạn khỏe không?",
}


def speak(
    backend: EspeakBackend,
    voice: EspeakVoice,
    text: str = "Please remember to buy some milk on the way home.",
    language: str = "en",
    seed: int | None = 7,
) -> Synthesis:
    (result,) = backend.generate(
        [GenerateJob(text=text, voice=voice, language=language, seed=seed)]
    )
    return result


def loudest_window_rms(samples: npt.NDArray[np.float32], rate: int) -> float:
    window = int(0.05 * rate)
    power = np.convolve(samples.astype(np.float64) ** 2, np.ones(window) / window, "valid")
    return float(np.sqrt(power.max()))


def edge_silences(samples: npt.NDArray[np.float32], rate: int) -> tuple[float, float]:
    window = int(0.05 * rate)
    power = np.convolve(samples.astype(np.float64) ** 2, np.ones(window) / window, "valid")
    loud = np.nonzero(np.sqrt(power) > loudest_window_rms(samples, rate) * 10 ** (-35 / 20))[0]
    return loud[0] / rate, (power.size - loud[-1]) / rate


def test_backend_satisfies_the_protocol(backend: EspeakBackend) -> None:
    assert isinstance(backend, TTSBackend)
    assert backend.name == "espeak"
    assert backend.sample_rate == 22050
    assert backend.device == "cpu"
    assert backend.deterministic is True
    assert backend.max_batch_size == 1
    assert backend.model.startswith("espeak-ng 1.52")
    assert set(QWEN_LANGUAGES) <= set(backend.languages)
    assert set(backend.languages) == set(SENTENCES)


def test_prompts_of_the_references_differ_and_are_json(
    prompts: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    low, high = prompts
    assert json.loads(json.dumps(low)) == low
    assert low["features"]["f0_median_hz"] < high["features"]["f0_median_hz"]


def test_voices_pick_distinct_variants(voices: tuple[EspeakVoice, EspeakVoice]) -> None:
    low, high = voices
    assert low.settings.variant in {"m8", "m1", "m3", "m7"}
    assert high.settings.variant in {"aunty", "f4", "f2", "f3"}


def test_generated_audio_meets_the_audio_clauses(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice]
) -> None:
    text = "Please remember to buy some milk on the way home."
    for voice in voices:
        result = speak(backend, voice, text)
        samples, rate = result.samples, result.sample_rate
        assert rate == 22050
        assert samples.dtype == np.float32
        assert samples.ndim == 1
        assert np.isfinite(samples).all()
        assert np.abs(samples).max() <= 1.0
        assert 20 * np.log10(loudest_window_rms(samples, rate)) > -40  # AUD-7
        assert np.mean(np.abs(samples) >= 0.999) < 0.001  # AUD-8
        assert abs(float(samples.mean())) < 0.02  # AUD-9
        seconds = samples.size / rate
        assert len(text) / 40 <= seconds <= len(text) / 4 + 2  # AUD-10
        leading, trailing = edge_silences(samples, rate)
        assert leading <= 1.0  # AUD-11
        assert trailing <= 1.0


def test_same_seed_gives_identical_audio_after_other_work(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice]
) -> None:
    first = speak(backend, voices[0], seed=12345)
    speak(backend, voices[1], "Something different in between.", seed=1)
    speak(backend, voices[0], "And another thing.", seed=None)
    second = speak(backend, voices[0], seed=12345)
    assert first.samples.tobytes() == second.samples.tobytes()


def test_different_seeds_give_different_audio(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice]
) -> None:
    for voice in voices:
        takes = {speak(backend, voice, seed=seed).samples.tobytes() for seed in range(5)}
        assert len(takes) == 5


def test_unseeded_requests_differ(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice]
) -> None:
    takes = {speak(backend, voices[0], seed=None).samples.tobytes() for _ in range(3)}
    assert len(takes) == 3


def test_seeds_vary_prosody_only_slightly(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice]
) -> None:
    lengths = [speak(backend, voices[0], seed=seed).samples.size for seed in range(8)]
    assert max(lengths) / min(lengths) < 1.12


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_every_declared_language_speaks(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice], language: str
) -> None:
    result = speak(backend, voices[1], SENTENCES[language], language)
    assert result.samples.size / result.sample_rate > 0.5
    assert 20 * np.log10(loudest_window_rms(result.samples, result.sample_rate)) > -40


@pytest.mark.parametrize("language", ["xx", "tlh", "EN", ""])
def test_unknown_language_is_refused(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice], language: str
) -> None:
    with pytest.raises(UnsupportedLanguageError):
        speak(backend, voices[0], language=language)


@pytest.mark.parametrize(
    "text",
    [
        "Crème brûlée, 3½ € — «très» bon! 😀 #1 @home ünïcödé 100 %",
        "?!...",
        "Line one.\nLine two.\tTabbed.",
        "Nul\x00inside and a bell\x07.",
        "a" * 500,
    ],
)
def test_awkward_text_is_spoken(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice], text: str
) -> None:
    result = speak(backend, voices[0], text)
    assert result.samples.size / result.sample_rate > 0.3
    assert 20 * np.log10(loudest_window_rms(result.samples, result.sample_rate)) > -40


@pytest.mark.parametrize("text", ["", "   \n\t", "\x00\x01"])
def test_empty_text_is_a_client_error(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice], text: str
) -> None:
    with pytest.raises(BackendError):
        speak(backend, voices[0], text)


def test_a_voice_from_elsewhere_is_refused(backend: EspeakBackend) -> None:
    with pytest.raises(VoicePromptError):
        backend.generate([GenerateJob(text="Hello.", voice={"x": 1}, language="en", seed=1)])
    with pytest.raises(VoicePromptError):
        backend.parse_voice_prompt({"engine": "qwen", "version": 1})


@pytest.mark.parametrize("rate", [8_000, 11_025, 22_050, 44_100, 48_000])
def test_reference_at_any_rate_gives_the_same_voice(
    backend: EspeakBackend, references: tuple[ReferenceClip, ReferenceClip], rate: int
) -> None:
    clip = references[1]
    spectrum = np.fft.rfft(clip.samples.astype(np.float64))
    length = round(clip.samples.size * rate / clip.sample_rate)
    bins = length // 2 + 1
    resized = np.zeros(bins, dtype=complex)
    resized[: min(bins, spectrum.size)] = spectrum[: min(bins, spectrum.size)]
    resampled = (np.fft.irfft(resized, n=length) * length / clip.samples.size).astype(np.float32)
    original = backend.parse_voice_prompt(
        backend.create_voice_prompt(clip.samples, clip.sample_rate, "")
    )
    converted = backend.parse_voice_prompt(backend.create_voice_prompt(resampled, rate, ""))
    assert converted.features.f0_median_hz == pytest.approx(
        original.features.f0_median_hz, rel=0.01
    )
    assert converted.settings.variant == original.settings.variant


def test_bad_references_are_client_errors(backend: EspeakBackend) -> None:
    rate = 16_000
    tone = (0.3 * np.sin(2 * np.pi * 150 * np.arange(rate * 2) / rate)).astype(np.float32)
    cases: list[tuple[npt.NDArray[np.float32], int, str]] = [
        (np.zeros(rate * 3, dtype=np.float32), rate, "silent"),
        (tone[: rate // 2], rate, "at least 1 s"),
        (np.random.default_rng(1).normal(0, 0.1, rate * 3).astype(np.float32), rate, "voiced"),
        (tone, 4_000, "Hz"),
        (tone, 96_000, "Hz"),
        (np.stack([tone, tone], axis=1), rate, "mono"),
        (np.full(rate * 2, np.nan, dtype=np.float32), rate, "non-finite"),
    ]
    for samples, sample_rate, message in cases:
        with pytest.raises(BackendError, match=message):
            backend.create_voice_prompt(samples, sample_rate, "")


def test_concurrent_callers_get_what_they_get_alone(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice]
) -> None:
    texts = [f"This is sentence number {index}, spoken alone." for index in range(6)]
    alone = [
        speak(backend, voices[i % 2], text, seed=i).samples.tobytes()
        for i, text in enumerate(texts)
    ]
    together: dict[int, bytes] = {}

    def work(index: int) -> None:
        together[index] = speak(
            backend, voices[index % 2], texts[index], seed=index
        ).samples.tobytes()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [together[index] for index in range(len(texts))] == alone
