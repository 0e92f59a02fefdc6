"""From features to espeak settings: the right variant, bounded parameters, seeded jitter."""

from __future__ import annotations

import math

import pytest

from reference_server.backends.espeak.calibration import (
    load_calibrations,
    measure_variant,
)
from reference_server.backends.espeak.features import VoiceFeatures
from reference_server.backends.espeak.steering import (
    MAX_EQ_GAIN_DB,
    PITCH_BOUNDS,
    RANGE_BOUNDS,
    RATE_BOUNDS_WPM,
    jitter_for_seed,
    settings_for,
)
from reference_server.backends.espeak.voices import VARIANTS

MALE = {"m8", "m1", "m3", "m7"}
FEMALE = {"aunty", "f4", "f2", "f3"}


def features(
    f0: float = 120.0,
    spread: float = 2.0,
    rate: float = 4.0,
    spectrum: tuple[float, ...] = (0.0,) * 24,
) -> VoiceFeatures:
    return VoiceFeatures(
        f0_median_hz=f0,
        f0_spread_semitones=spread,
        modulation_rate_hz=rate,
        spectrum_db=spectrum,
        voiced_seconds=3.0,
    )


@pytest.mark.parametrize("f0", [60.0, 90.0, 110.0, 125.0])
def test_low_voices_get_a_male_variant(f0: float) -> None:
    assert settings_for(features(f0=f0)).variant in MALE


@pytest.mark.parametrize("f0", [160.0, 190.0, 230.0, 400.0])
def test_high_voices_get_a_female_variant(f0: float) -> None:
    assert settings_for(features(f0=f0)).variant in FEMALE


def _predicted_f0(f0: float) -> float:
    settings = settings_for(features(f0=f0))
    table = next(item for item in load_calibrations() if item.variant == settings.variant)
    pitches = [pitch for pitch, _ in table.f0_by_pitch]
    log_f0s = [math.log(value) for _, value in table.f0_by_pitch]
    # linear interpolation of the variant's measured pitch curve
    for index in range(1, len(pitches)):
        if settings.pitch <= pitches[index]:
            share = (settings.pitch - pitches[index - 1]) / (pitches[index] - pitches[index - 1])
            return math.exp(log_f0s[index - 1] + share * (log_f0s[index] - log_f0s[index - 1]))
    raise AssertionError("pitch outside the calibrated range")


@pytest.mark.parametrize("f0", [80.0, 95.0, 118.0, 140.0, 165.0, 200.0, 240.0])
def test_pitch_lands_near_the_reference_within_reach(f0: float) -> None:
    predicted = _predicted_f0(f0)
    assert abs(12 * math.log2(predicted / f0)) < 0.6  # semitones


def test_settings_stay_within_their_bounds() -> None:
    for f0 in (50.0, 500.0):
        for spread in (0.0, 24.0):
            for rate in (0.0, 10.0):
                for level in (-120.0, 120.0):
                    spectrum = tuple(level if i % 2 else -level for i in range(24))
                    settings = settings_for(features(f0, spread, rate, spectrum))
                    assert PITCH_BOUNDS[0] <= settings.pitch <= PITCH_BOUNDS[1]
                    assert RANGE_BOUNDS[0] <= settings.pitch_range <= RANGE_BOUNDS[1]
                    assert RATE_BOUNDS_WPM[0] <= settings.rate_wpm <= RATE_BOUNDS_WPM[1]
                    assert max(map(abs, settings.eq_gains_db)) <= MAX_EQ_GAIN_DB


def test_faster_and_livelier_references_give_faster_and_wider_speech() -> None:
    slow = settings_for(features(rate=3.6, spread=1.0))
    fast = settings_for(features(rate=4.6, spread=3.0))
    assert fast.rate_wpm > slow.rate_wpm
    assert fast.pitch_range > slow.pitch_range


def test_equaliser_moves_towards_the_reference_spectrum() -> None:
    bright = tuple(-10.0 + 20.0 * i / 23 for i in range(24))
    dull = tuple(reversed(bright))
    bright_gains = settings_for(features(spectrum=bright)).eq_gains_db
    dull_gains = settings_for(features(spectrum=dull)).eq_gains_db
    # The variant's own spectrum cancels in the difference: what is left tilts upwards.
    tilt = [b - d for b, d in zip(bright_gains, dull_gains, strict=True)]
    assert sum(tilt[12:]) / 12 > sum(tilt[:12]) / 12 + 5.0


def test_jitter_is_fixed_by_the_seed_and_small() -> None:
    assert jitter_for_seed(42) == jitter_for_seed(42)
    assert jitter_for_seed(42) != jitter_for_seed(43)
    for seed in range(200):
        jitter = jitter_for_seed(seed)
        assert abs(jitter.rate_factor - 1.0) <= 0.03
        assert abs(jitter.speed_factor - 1.0) <= 0.02


def test_calibration_covers_the_variants_in_pitch_order() -> None:
    table = load_calibrations()
    assert tuple(item.variant for item in table) == VARIANTS
    neutral = [dict(item.f0_by_pitch)[50] for item in table]
    assert neutral == sorted(neutral)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["m3", "aunty"])
def test_committed_calibration_matches_a_fresh_measurement(variant: str) -> None:
    committed = next(item for item in load_calibrations() if item.variant == variant)
    fresh = measure_variant(variant)
    for (pitch, old), (same_pitch, new) in zip(
        committed.f0_by_pitch, fresh.f0_by_pitch, strict=True
    ):
        assert pitch == same_pitch
        assert new == pytest.approx(old, rel=0.01)
    assert fresh.modulation_rate_hz == pytest.approx(committed.modulation_rate_hz, rel=0.02)
    assert fresh.spectrum_db == pytest.approx(committed.spectrum_db, abs=0.1)
