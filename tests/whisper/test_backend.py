"""WhisperBackend: real transcriptions with tiny.en, and its plumbing with a fake model."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from conformance.judges import whisper_model
from conformance.judges.asr import cer
from conformance.judges.whisper_model import LoadedWhisper, ModelIntegrityError
from reference_server.backends import whisper
from reference_server.backends.base import (
    BackendError,
    Transcription,
    TranscriptionBackend,
    UnsupportedLanguageError,
)
from reference_server.backends.whisper import WhisperBackend, WhisperSettings
from tests.whisper.conftest import SPOKEN, Speech

# --- with the real tiny.en ------------------------------------------------------------------


def test_it_is_a_transcription_backend(backend: WhisperBackend) -> None:
    assert isinstance(backend, TranscriptionBackend)
    assert (backend.name, backend.model, backend.device) == ("whisper", "tiny.en", "cpu")
    assert backend.loaded.pinned is True


def test_an_english_only_model_declares_english(backend: WhisperBackend) -> None:
    assert backend.languages == ("en",)


@pytest.mark.parametrize("language", ["fr", "zh", "jv"])
def test_a_language_the_model_lacks_is_refused(backend: WhisperBackend, language: str) -> None:
    silence = np.zeros(16_000, np.float32)
    with pytest.raises(UnsupportedLanguageError, match=f"'{language}' is not supported"):
        backend.transcribe(silence, 16_000, language=language)


def test_it_transcribes_speech(backend: WhisperBackend, speech: Speech) -> None:
    samples, rate = speech
    result = backend.transcribe(samples, rate, language="en")
    assert cer(SPOKEN, result.text) < 0.1, result.text
    assert result.language == "en"
    assert result.duration == pytest.approx(samples.size / rate)
    assert result.text == result.text.strip()
    assert result.segments
    previous_end = 0.0
    for index, segment in enumerate(result.segments):
        assert segment.id == index
        assert previous_end <= segment.start <= segment.end <= result.duration
        assert segment.tokens
        assert segment.temperature == 0.0
        assert segment.words == ()
        previous_end = segment.end


def test_language_is_detected_when_not_given(backend: WhisperBackend, speech: Speech) -> None:
    assert backend.transcribe(*speech).language == "en"


def test_word_timestamps(backend: WhisperBackend, speech: Speech) -> None:
    result = backend.transcribe(*speech, word_timestamps=True)
    words = [word for segment in result.segments for word in segment.words]
    assert [word.word.strip(" ,.").lower() for word in words][:3] == ["the", "weather", "is"]
    previous_end = 0.0
    for segment in result.segments:
        for word in segment.words:
            assert previous_end <= word.start <= word.end <= result.duration
            assert segment.start - 0.05 <= word.start
            assert word.end <= segment.end + 0.05
            previous_end = word.end


@pytest.mark.slow
def test_any_input_rate_gives_the_same_words(backend: WhisperBackend, speech: Speech) -> None:
    samples, rate = speech
    at_16k = whisper_model.to_whisper_input(samples, rate)
    native = backend.transcribe(samples, rate).text
    resampled = backend.transcribe(at_16k, 16_000).text
    assert cer(native, resampled) < 0.05


@pytest.mark.slow
def test_temperature_zero_is_deterministic(backend: WhisperBackend, speech: Speech) -> None:
    first = backend.transcribe(*speech, word_timestamps=True)
    second = backend.transcribe(*speech, word_timestamps=True)
    assert first == second


@pytest.mark.slow
def test_a_prompt_is_accepted(backend: WhisperBackend, speech: Speech) -> None:
    result = backend.transcribe(*speech, prompt="A weather report.")
    assert cer(SPOKEN, result.text) < 0.2


@pytest.mark.slow
def test_concurrent_calls_give_what_a_call_alone_gives(
    backend: WhisperBackend, speech: Speech
) -> None:
    alone = backend.transcribe(*speech)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: backend.transcribe(*speech), range(2)))
    assert results == [alone, alone]


def test_silence_gives_no_words_not_an_error(backend: WhisperBackend) -> None:
    result = backend.transcribe(np.zeros(32_000, np.float32), 16_000)
    assert isinstance(result, Transcription)
    assert result.duration == pytest.approx(2.0)


def test_the_pinned_default_refuses_a_tampered_model(
    tampered_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whisper_model, "bundled_model_dir", lambda: tampered_model_dir)
    with pytest.raises(ModelIntegrityError, match=r"model\.bin"):
        WhisperBackend()


def test_a_model_given_as_a_path_is_loaded_unpinned(tampered_model_dir: Path) -> None:
    backend = WhisperBackend(WhisperSettings(model=tampered_model_dir))
    assert backend.loaded.pinned is False
    assert backend.model == "tiny.en"
    backend.close()


# --- plumbing, with a fake faster-whisper model ----------------------------------------------


class _FakeWhisper:
    def __init__(self, languages: list[str]) -> None:
        self.model = SimpleNamespace(is_multilingual=len(languages) > 1)
        self.supported_languages = languages
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, samples: np.ndarray, **options: Any) -> tuple[Any, Any]:
        self.calls.append({"samples": samples, **options})
        segment = SimpleNamespace(
            start=np.float64(0.0),
            end=np.float64(1.5),
            text=" Halo dunya.",
            seek=0,
            tokens=[50363, 1, 2],
            temperature=options["temperature"][0],
            avg_logprob=-0.2,
            compression_ratio=1.1,
            no_speech_prob=0.01,
            words=None,
        )
        return iter([segment]), SimpleNamespace(language="jw")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> _FakeWhisper:
    model = _FakeWhisper(["en", "jw", "fr", "haw"])

    def load(*_args: Any, **_kwargs: Any) -> LoadedWhisper:
        return LoadedWhisper(model, "fake-multilingual", "cpu", "int8", False, "fake 1.0")

    monkeypatch.setattr(whisper, "load_whisper", load)
    return model


def test_a_multilingual_model_declares_iso_codes(fake: _FakeWhisper) -> None:
    assert WhisperBackend().languages == ("en", "fr", "jv")


def test_options_reach_faster_whisper(fake: _FakeWhisper) -> None:
    backend = WhisperBackend(WhisperSettings(beam_size=3))
    result = backend.transcribe(
        np.zeros(8_000, np.float32), 8_000, language="jv", prompt="Names: Budi.", temperature=0.4
    )
    call = fake.calls[-1]
    assert call["language"] == "jw"
    assert call["initial_prompt"] == "Names: Budi."
    assert call["temperature"] == (0.4,)  # no fallback unless configured
    assert call["beam_size"] == 3
    assert call["word_timestamps"] is False
    assert call["samples"].size == 16_000  # resampled from 8 kHz
    assert result.language == "jv"
    assert result.text == "Halo dunya."
    assert result.segments[0].id == 0
    assert isinstance(result.segments[0].start, float)


def test_no_prompt_and_no_language_are_passed_as_none(fake: _FakeWhisper) -> None:
    WhisperBackend().transcribe(np.zeros(1_600, np.float32), 16_000, prompt="")
    assert fake.calls[-1]["initial_prompt"] is None
    assert fake.calls[-1]["language"] is None
    assert fake.calls[-1]["temperature"] == (0.0,)


@pytest.mark.parametrize(
    ("temperature", "schedule"),
    [(0.0, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)), (0.3, (0.3, 0.5, 0.7, 0.9)), (1.0, (1.0,))],
)
def test_temperature_fallback_is_opt_in(
    fake: _FakeWhisper, temperature: float, schedule: tuple[float, ...]
) -> None:
    backend = WhisperBackend(WhisperSettings(temperature_fallback=True))
    backend.transcribe(np.zeros(1_600, np.float32), 16_000, temperature=temperature)
    assert fake.calls[-1]["temperature"] == schedule


@pytest.mark.parametrize("temperature", [-0.1, 1.5, float("nan")])
def test_a_temperature_outside_0_1_is_refused(fake: _FakeWhisper, temperature: float) -> None:
    with pytest.raises(BackendError, match="temperature"):
        WhisperBackend().transcribe(np.zeros(1_600, np.float32), 16_000, temperature=temperature)


def test_unusable_audio_is_a_backend_error(fake: _FakeWhisper) -> None:
    with pytest.raises(BackendError, match="no samples"):
        WhisperBackend().transcribe(np.zeros(0, np.float32), 16_000)
    assert fake.calls == []


def test_a_closed_backend_refuses_work(fake: _FakeWhisper) -> None:
    backend = WhisperBackend()
    backend.close()
    with pytest.raises(RuntimeError, match="closed"):
        backend.transcribe(np.zeros(1_600, np.float32), 16_000)


def test_beam_size_must_be_positive(fake: _FakeWhisper) -> None:
    with pytest.raises(ValueError, match="beam_size"):
        WhisperBackend(WhisperSettings(beam_size=0))
