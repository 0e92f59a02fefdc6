"""Voice features: pitch, rate and spectrum measured on signals whose answers are known."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from conformance.engine.references import reference_voices, transcription_clips
from reference_server.backends.espeak.features import (
    SPECTRUM_BAND_EDGES_HZ,
    ReferenceTooWeakError,
    measure_voice,
)


def vowel_like(
    f0_hz: float,
    sample_rate: int,
    seconds: float = 3.0,
    syllables_per_second: float = 4.0,
    brightness: float = 0.7,
) -> npt.NDArray[np.float32]:
    """Harmonics of ``f0_hz`` with a 1/k**(1/brightness) roll-off, pulsed at a syllable rate."""
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    harmonics = np.arange(1, int(4000 / f0_hz) + 1)
    amplitudes = harmonics ** (-1.0 / brightness)
    tone = (amplitudes[:, None] * np.sin(2 * np.pi * f0_hz * harmonics[:, None] * time)).sum(0)
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * syllables_per_second * time)
    signal = tone * envelope
    result: npt.NDArray[np.float32] = (0.5 * signal / np.abs(signal).max()).astype(np.float32)
    return result


@pytest.mark.parametrize("f0_hz", [85.0, 120.0, 180.0, 260.0])
def test_pitch_of_a_harmonic_tone(f0_hz: float) -> None:
    features = measure_voice(vowel_like(f0_hz, 16_000), 16_000)
    assert features.f0_median_hz == pytest.approx(f0_hz, rel=0.01)
    assert features.f0_spread_semitones < 0.2


@pytest.mark.parametrize("sample_rate", [8_000, 11_025, 22_050, 44_100, 48_000])
def test_features_do_not_depend_on_the_sample_rate(sample_rate: int) -> None:
    reference = measure_voice(vowel_like(150.0, 16_000), 16_000)
    other = measure_voice(vowel_like(150.0, sample_rate), sample_rate)
    assert other.f0_median_hz == pytest.approx(reference.f0_median_hz, rel=0.005)
    assert other.modulation_rate_hz == pytest.approx(reference.modulation_rate_hz, rel=0.05)
    # Below 4 kHz the bands agree whatever the rate (8 kHz audio has nothing above).
    low_bands = [i for i, edge in enumerate(SPECTRUM_BAND_EDGES_HZ[1:]) if edge < 3_500]
    difference = np.array(other.spectrum_db) - np.array(reference.spectrum_db)
    spread = difference[low_bands] - difference[low_bands].mean()
    assert np.abs(spread).max() < 1.5


def test_faster_pulsing_reads_as_a_faster_rate() -> None:
    slow = measure_voice(vowel_like(120.0, 16_000, syllables_per_second=3.0), 16_000)
    fast = measure_voice(vowel_like(120.0, 16_000, syllables_per_second=6.0), 16_000)
    assert slow.modulation_rate_hz == pytest.approx(3.0, abs=0.5)
    assert fast.modulation_rate_hz == pytest.approx(6.0, abs=0.7)


def test_brighter_voice_has_more_high_band_energy() -> None:
    dull = measure_voice(vowel_like(120.0, 16_000, brightness=0.5), 16_000)
    bright = measure_voice(vowel_like(120.0, 16_000, brightness=1.5), 16_000)
    assert len(dull.spectrum_db) == len(SPECTRUM_BAND_EDGES_HZ) - 1
    # The tones stop at 4 kHz: compare the 1-4 kHz bands with the lowest ones.
    upper = [i for i, edge in enumerate(SPECTRUM_BAND_EDGES_HZ[:-1]) if 1_000 <= edge < 3_800]

    def tilt(levels: tuple[float, ...]) -> float:
        return float(np.mean([levels[i] for i in upper]) - np.mean(levels[:4]))

    assert tilt(bright.spectrum_db) > tilt(dull.spectrum_db) + 6.0
    assert np.mean(dull.spectrum_db) == pytest.approx(0.0, abs=1e-9)


def test_silence_is_refused() -> None:
    with pytest.raises(ReferenceTooWeakError, match="silent"):
        measure_voice(np.zeros(48_000, dtype=np.float32), 16_000)


def test_noise_has_no_voice() -> None:
    noise = np.random.default_rng(0).normal(0.0, 0.1, 48_000).astype(np.float32)
    with pytest.raises(ReferenceTooWeakError, match="voiced speech"):
        measure_voice(noise, 16_000)


def test_a_very_short_clip_is_refused_not_crashed() -> None:
    with pytest.raises(ReferenceTooWeakError):
        measure_voice(vowel_like(120.0, 16_000, seconds=0.2), 16_000)


def test_bundled_references_are_a_low_and_a_high_voice() -> None:
    low, high = (measure_voice(clip.samples, clip.sample_rate) for clip in reference_voices())
    assert 85.0 < low.f0_median_hz < 130.0
    assert 150.0 < high.f0_median_hz < 220.0
    for features in (low, high):
        assert 2.0 < features.modulation_rate_hz < 7.0
        assert features.voiced_seconds > 2.0


def test_same_speaker_clips_agree_on_pitch() -> None:
    voice_a, voice_b = reference_voices()
    station = next(clip for clip in transcription_clips() if clip.voice == voice_a.voice)
    weather = next(clip for clip in transcription_clips() if clip.voice == voice_b.voice)
    for reference, other in ((voice_a, station), (voice_b, weather)):
        first = measure_voice(reference.samples, reference.sample_rate).f0_median_hz
        second = measure_voice(other.samples, other.sample_rate).f0_median_hz
        assert abs(12 * np.log2(first / second)) < 2.0  # within two semitones
