"""Measure the espeak-ng voice variants with the same analysis the voice prompts use.

``python -m reference_server.backends.espeak > reference_server/backends/espeak/calibration.json``
regenerates the committed table (see ``__main__``). espeak-ng is deterministic, so the table only
changes when espeak-ng, the variant list or the analysis changes; a test re-measures a variant.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import numpy as np

from reference_server.backends.espeak import _engine
from reference_server.backends.espeak.features import VoiceFeatures, measure_voice
from reference_server.backends.espeak.voices import VARIANTS, voice_name

__all__ = [
    "CALIBRATION_PITCHES",
    "CALIBRATION_RATE_WPM",
    "CALIBRATION_TEXT",
    "VariantCalibration",
    "load_calibrations",
    "measure_all",
    "measure_variant",
    "render_json",
]

CALIBRATION_TEXT: Final = (
    "The kitchen clock said half past seven when the phone rang. My neighbour asked whether "
    "I could water her plants while she was away, and I said I would be happy to help. Later "
    "we walked the dog along the river and talked about the weekend."
)
CALIBRATION_PITCHES: Final = (20, 30, 40, 50, 60, 70, 80)
CALIBRATION_RATE_WPM: Final = 175
_NEUTRAL: Final = 50
_FILE: Final = "calibration.json"


@dataclass(frozen=True)
class VariantCalibration:
    """How one espeak-ng voice variant sounds to ``measure_voice`` at rate 175, range 50."""

    variant: str
    f0_by_pitch: tuple[tuple[int, float], ...]
    """(espeak pitch parameter, median F0 in Hz), pitch ascending."""
    f0_spread_semitones: float
    modulation_rate_hz: float
    spectrum_db: tuple[float, ...]


def measure_variant(variant: str) -> VariantCalibration:
    """Synthesise the calibration text with ``variant`` at each calibration pitch and measure."""
    by_pitch = {pitch: _measure(variant, pitch) for pitch in CALIBRATION_PITCHES}
    neutral = by_pitch[_NEUTRAL]
    return VariantCalibration(
        variant=variant,
        f0_by_pitch=tuple(
            (pitch, round(by_pitch[pitch].f0_median_hz, 2)) for pitch in CALIBRATION_PITCHES
        ),
        f0_spread_semitones=round(neutral.f0_spread_semitones, 3),
        modulation_rate_hz=round(neutral.modulation_rate_hz, 3),
        spectrum_db=tuple(round(level, 2) for level in neutral.spectrum_db),
    )


def _measure(variant: str, pitch: int) -> VoiceFeatures:
    request = _engine.SynthesisRequest(
        text=CALIBRATION_TEXT,
        voice=voice_name("en", variant),
        rate=CALIBRATION_RATE_WPM,
        pitch=pitch,
        range=_NEUTRAL,
        seed=0,
    )
    samples = _engine.synthesize(request).astype(np.float32) / 32768.0
    return measure_voice(samples, _engine.engine_info().sample_rate)


def render_json(calibrations: list[VariantCalibration]) -> str:
    """The text of ``calibration.json`` holding ``calibrations``."""
    header = {
        "generator": "python -m reference_server.backends.espeak",
        "espeak_ng": _engine.engine_info().version,
        "text": CALIBRATION_TEXT,
        "rate_wpm": CALIBRATION_RATE_WPM,
    }
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in header.items()]
    variants = ",\n".join(f"    {json.dumps(asdict(item))}" for item in calibrations)
    return "{\n" + "\n".join(lines) + '\n  "variants": [\n' + variants + "\n  ]\n}\n"


@cache
def load_calibrations() -> tuple[VariantCalibration, ...]:
    """The committed measurements, in ``VARIANTS`` order."""
    text = (resources.files(__package__) / _FILE).read_text(encoding="utf-8")
    by_name = {item["variant"]: item for item in json.loads(text)["variants"]}
    if set(by_name) != set(VARIANTS):
        raise RuntimeError(f"{_FILE} does not cover the voice variants; regenerate it")
    return tuple(_from_json(by_name[variant]) for variant in VARIANTS)


def _from_json(item: dict[str, Any]) -> VariantCalibration:
    return VariantCalibration(
        variant=str(item["variant"]),
        f0_by_pitch=tuple((int(pitch), float(f0)) for pitch, f0 in item["f0_by_pitch"]),
        f0_spread_semitones=float(item["f0_spread_semitones"]),
        modulation_rate_hz=float(item["modulation_rate_hz"]),
        spectrum_db=tuple(float(level) for level in item["spectrum_db"]),
    )


def measure_all() -> list[VariantCalibration]:
    """Every variant of ``VARIANTS``, measured."""
    return [measure_variant(variant) for variant in VARIANTS]
