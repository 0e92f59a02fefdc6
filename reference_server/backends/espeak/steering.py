"""From a reference voice's features to espeak-ng settings that move towards it.

Measured on this project's references (SPEC.md SPK-1, resemblyzer): choosing the variant by
pitch does most of the work; matching the long-term spectrum with an equaliser roughly doubles
the margin; pitch, range and rate add little similarity but make the voice follow the
reference's prosody. Bounds keep every setting within what stays intelligible to Whisper.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final

from reference_server.backends.espeak.calibration import (
    CALIBRATION_RATE_WPM,
    VariantCalibration,
    load_calibrations,
)
from reference_server.backends.espeak.features import VoiceFeatures

__all__ = [
    "MAX_EQ_GAIN_DB",
    "PITCH_BOUNDS",
    "RANGE_BOUNDS",
    "RATE_BOUNDS_WPM",
    "Jitter",
    "VoiceSettings",
    "jitter_for_seed",
    "settings_for",
]

PITCH_BOUNDS: Final = (30, 70)
"""espeak pitch parameter limits: about +-3 semitones for the male variants, +-5 for aunty."""
RANGE_BOUNDS: Final = (25, 80)
RATE_BOUNDS_WPM: Final = (140, 210)
MAX_EQ_GAIN_DB: Final = 12.0
_RATE_EXPONENT: Final = 1.6
"""espeak's modulation rate grows as wpm**0.63 (measured from 140 to 220 wpm); inverted here."""
_NEUTRAL: Final = 50
RATE_JITTER: Final = 0.03
SPEED_JITTER: Final = 0.02


@dataclass(frozen=True)
class VoiceSettings:
    """espeak-ng parameters and an output equaliser for one reference voice."""

    variant: str
    pitch: int
    pitch_range: int
    rate_wpm: int
    eq_gains_db: tuple[float, ...]


@dataclass(frozen=True)
class Jitter:
    """A seed's small, deterministic variation of the prosody."""

    rate_factor: float
    speed_factor: float
    noise_seed: int


def settings_for(features: VoiceFeatures) -> VoiceSettings:
    """The espeak-ng settings that best approach ``features``."""
    variant = _nearest_variant(features.f0_median_hz)
    return VoiceSettings(
        variant=variant.variant,
        pitch=_pitch_for(variant, features.f0_median_hz),
        pitch_range=_clamp(
            round(_NEUTRAL * features.f0_spread_semitones / variant.f0_spread_semitones),
            RANGE_BOUNDS,
        ),
        rate_wpm=_clamp(
            round(
                CALIBRATION_RATE_WPM
                * (features.modulation_rate_hz / variant.modulation_rate_hz) ** _RATE_EXPONENT
            ),
            RATE_BOUNDS_WPM,
        ),
        eq_gains_db=tuple(
            max(-MAX_EQ_GAIN_DB, min(MAX_EQ_GAIN_DB, wanted - own))
            for wanted, own in zip(features.spectrum_db, variant.spectrum_db, strict=True)
        ),
    )


def jitter_for_seed(seed: int) -> Jitter:
    """About +-3 % speaking rate and +-2 % speed (pitch and tempo), fixed by ``seed``."""
    generator = random.Random(seed)
    return Jitter(
        rate_factor=1.0 + generator.uniform(-RATE_JITTER, RATE_JITTER),
        speed_factor=1.0 + generator.uniform(-SPEED_JITTER, SPEED_JITTER),
        noise_seed=seed,
    )


def _nearest_variant(f0_hz: float) -> VariantCalibration:
    return min(load_calibrations(), key=lambda item: abs(math.log(_neutral_f0(item) / f0_hz)))


def _neutral_f0(calibration: VariantCalibration) -> float:
    return dict(calibration.f0_by_pitch)[_NEUTRAL]


def _pitch_for(calibration: VariantCalibration, f0_hz: float) -> int:
    """The pitch parameter at which ``calibration``'s variant speaks at ``f0_hz``, bounded."""
    pitches = [float(pitch) for pitch, _ in calibration.f0_by_pitch]
    log_f0s = [math.log(f0) for _, f0 in calibration.f0_by_pitch]
    target = math.log(f0_hz)
    if target <= log_f0s[0]:
        return PITCH_BOUNDS[0]
    if target >= log_f0s[-1]:
        return PITCH_BOUNDS[1]
    for index in range(1, len(log_f0s)):
        if target <= log_f0s[index]:
            low, high = log_f0s[index - 1], log_f0s[index]
            share = (target - low) / (high - low)
            pitch = pitches[index - 1] + share * (pitches[index] - pitches[index - 1])
            return _clamp(round(pitch), PITCH_BOUNDS)
    return PITCH_BOUNDS[1]  # pragma: no cover - the loop returns for every target in range


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))
