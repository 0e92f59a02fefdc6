"""AUD-6: is a clip's declared sample rate the rate its speech was made at?

Three witnesses, strongest first:

1. **Pitch against the voice references.** A provider that clones a voice reproduces its pitch;
   a wrong declared rate scales every output's pitch by the same factor. When the outputs for
   the two references keep the references' pitch ratio, their mean offset from the references
   measures the factor, down to ratios of about 1.08 (22050 Hz labelled 24000), with or
   without an ASR judge.
2. **Intelligibility (with an ASR judge).** Speech that is clearly more intelligible played at
   half or double its declared rate was made at that rate.
3. **Speaking-rate and brightness cues (without a judge).** Coarse: they vary between voices
   and engines by half an octave, so only large lies show.

The thresholds come from ``python -m measurements.aud6_calibration`` (SPEC.md Appendix C).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from conformance.judges.analysis import (
    PitchTracking,
    median_f0_hz,
    nearest_standard_rate,
    pitch_tracking,
    speech_rate_cues,
)
from conformance.judges.asr import cer

__all__ = [
    "MAX_PITCH_LOG2_SCALE",
    "RateAssessment",
    "assess_rate",
    "measure_tracking",
]

Samples = npt.NDArray[np.float32]
Transcribe = Callable[[Samples, int], str]

MAX_PITCH_LOG2_SCALE = 0.075
"""Both voices' pitch this far (about 5 %) from their references means a wrong rate."""
MAX_CUES_LOG2_SCALE = 0.6
TRY_OTHER_RATES_ABOVE_CER = 0.3
INTELLIGIBLE_CER = 0.5
CER_MARGIN = 0.25


@dataclass(frozen=True)
class RateAssessment:
    consistent: bool
    method: str
    detail: dict[str, float | str | None]


def measure_tracking(
    outputs: Sequence[tuple[str, Samples, int]], references: Mapping[str, tuple[Samples, int]]
) -> PitchTracking | None:
    """``outputs`` are (reference name, samples, declared rate) of the clips made from each."""
    output_f0: dict[str, list[float]] = {}
    for which, samples, rate in outputs:
        f0 = median_f0_hz(samples, rate)
        if f0 is not None:
            output_f0.setdefault(which, []).append(f0)
    reference_f0 = {}
    for which, (samples, rate) in references.items():
        f0 = median_f0_hz(samples, rate)
        if f0 is not None:
            reference_f0[which] = f0
    return pitch_tracking(output_f0, reference_f0)


def assess_rate(
    samples: Samples,
    rate: int,
    text: str,
    tracking: PitchTracking | None,
    transcribe: Transcribe | None,
) -> RateAssessment:
    by_pitch = _by_pitch(tracking, rate)
    if by_pitch is not None and not by_pitch.consistent:
        return by_pitch
    pitch_detail = dict(by_pitch.detail) if by_pitch is not None else {}
    if transcribe is None:
        return _by_cues(samples, rate, text, pitch_detail)
    return _by_intelligibility(transcribe, samples, rate, text, pitch_detail)


def _by_pitch(tracking: PitchTracking | None, rate: int) -> RateAssessment | None:
    if tracking is None or not tracking.tracks:
        return None
    detail: dict[str, float | str | None] = {
        "pitch_log2_scale": round(tracking.log2_scale, 3),
        "pitch_tracking_error_log2": round(tracking.tracking_error_log2, 3),
    }
    consistent = abs(tracking.log2_scale) < MAX_PITCH_LOG2_SCALE
    if not consistent:
        detail["likely_true_rate"] = nearest_standard_rate(rate / 2**tracking.log2_scale)
    return RateAssessment(consistent, "pitch against the voice references", detail)


def _by_cues(
    samples: Samples, rate: int, text: str, detail: dict[str, float | str | None]
) -> RateAssessment:
    cues = speech_rate_cues(samples, rate, text)
    return RateAssessment(
        abs(cues.log2_scale) <= MAX_CUES_LOG2_SCALE,
        "speech-rate cues",
        {
            **detail,
            "characters_per_second": round(cues.characters_per_second, 1),
            "spectral_centroid_hz": round(cues.spectral_centroid_hz),
            "log2_time_scale": round(cues.log2_scale, 2),
        },
    )


def _by_intelligibility(
    transcribe: Transcribe,
    samples: Samples,
    rate: int,
    text: str,
    detail: dict[str, float | str | None],
) -> RateAssessment:
    at_declared = cer(text, transcribe(samples, rate))
    detail = {**detail, "cer_at_declared_rate": round(at_declared, 3)}
    if at_declared <= TRY_OTHER_RATES_ABOVE_CER:
        return RateAssessment(True, "ASR", detail)
    for candidate in candidate_rates(rate):
        alternative = cer(text, transcribe(samples, candidate))
        detail[f"cer_at_{candidate}_hz"] = round(alternative, 3)
        if alternative <= INTELLIGIBLE_CER and alternative + CER_MARGIN < at_declared:
            detail["likely_true_rate"] = candidate
            return RateAssessment(False, "ASR", detail)
    return RateAssessment(True, "ASR", detail)


def candidate_rates(rate: int) -> list[int]:
    """Half and double the declared rate. Not the nearer standard rates: slowed down by a
    quarter, a hard-to-hear voice (a German voice reading English) is heard better, which would
    blame a true rate; moderate lies are the pitch witness's to catch."""
    return [rate // 2, rate * 2]
