"""The measurements behind AUD-6 to AUD-11, on signals whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from conformance.judges import analysis

RATE = 16_000


def _tone(seconds: float, amplitude: float = 0.5, frequency: float = 150.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def test_loudest_window_of_a_half_scale_sine_is_minus_9_dbfs() -> None:
    level = analysis.loudest_window_dbfs(_tone(1.0), RATE)
    assert level == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)


def test_silence_is_below_the_floor() -> None:
    assert analysis.loudest_window_dbfs(np.zeros(RATE, np.float32), RATE) < -100


def test_clipped_fraction_counts_full_scale_samples() -> None:
    samples = np.zeros(1000, np.float32)
    samples[:5] = 1.0
    samples[5:7] = -0.9995
    assert analysis.clipped_fraction(samples) == pytest.approx(0.007)


def test_edge_silence_measures_leading_and_trailing_gaps() -> None:
    samples = np.concatenate([np.zeros(RATE // 2), _tone(1.0), np.zeros(RATE)]).astype(np.float32)
    leading, trailing = analysis.edge_silence(samples, RATE)
    assert leading == pytest.approx(0.5, abs=0.05)
    assert trailing == pytest.approx(1.0, abs=0.05)


def test_median_f0_of_a_harmonic_signal() -> None:
    t = np.arange(RATE) / RATE
    voiced = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 6)).astype(np.float32)
    assert analysis.median_f0_hz(voiced * 0.3, RATE) == pytest.approx(120, rel=0.03)


def test_duration_bounds_grow_with_text() -> None:
    assert analysis.duration_bounds("a" * 40) == (1.0, 12.0)


def test_time_scale_cue_doubles_with_a_doubled_declared_rate() -> None:
    rng = np.random.default_rng(0)
    bursts = [
        np.concatenate([_tone(0.12, 0.4, 1100) * rng.uniform(0.5, 1), np.zeros(800)])
        for _ in range(20)
    ]
    speech = np.concatenate(bursts).astype(np.float32)
    text = "x" * int(15 * len(speech) / RATE)
    right = analysis.speech_rate_cues(speech, RATE, text)
    doubled = analysis.speech_rate_cues(speech, RATE * 2, text)
    assert doubled.characters_per_second == pytest.approx(2 * right.characters_per_second, 0.1)
    assert doubled.spectral_centroid_hz == pytest.approx(2 * right.spectral_centroid_hz, 0.1)
    assert doubled.log2_scale - right.log2_scale == pytest.approx(1.0, abs=0.25)


def test_time_scale_cues_that_disagree_count_for_nothing() -> None:
    """A bright voice reading slowly: faster-sounding by one cue, slower by the other."""
    rng = np.random.default_rng(1)
    bursts = [
        np.concatenate([_tone(0.12, 0.4, 3000) * rng.uniform(0.5, 1), np.zeros(800)])
        for _ in range(20)
    ]
    speech = np.concatenate(bursts).astype(np.float32)
    text = "x" * int(8 * len(speech) / RATE)
    assert analysis.speech_rate_cues(speech, RATE, text).log2_scale == 0.0
