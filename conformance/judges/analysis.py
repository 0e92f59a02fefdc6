"""Measurements of decoded speech that SPEC.md §7 bounds: level, clipping, DC offset, edge
silence, duration, and a time-scale estimate for checking a declared sample rate.

Numpy only, so that the conformance core and the benchmarks' correctness sampling need no torch.
Every function takes mono float32 samples scaled to ±1.0 full scale (``codec.to_float32``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "SILENCE_FLOOR_DBFS",
    "AudioStats",
    "clipped_fraction",
    "dc_offset",
    "duration_bounds",
    "edge_silence",
    "loudest_window_dbfs",
    "measure",
    "median_f0_hz",
    "pitch_tracking",
    "speech_rate_cues",
]

Samples = npt.NDArray[np.float32]

WINDOW_S = 0.05
SILENCE_FLOOR_DBFS = -40.0
EDGE_SILENCE_RELATIVE_DB = 35.0
CLIP_LEVEL = 0.999
_MIN_DB = -200.0


def _window_rms_db(samples: Samples, sample_rate: int, window_s: float = WINDOW_S) -> Samples:
    """RMS level in dBFS of consecutive non-overlapping windows."""
    size = max(1, round(window_s * sample_rate))
    count = max(1, len(samples) // size)
    frames = np.zeros((count, size), dtype=np.float64)
    usable = samples[: count * size].astype(np.float64)
    frames.reshape(-1)[: usable.size] = usable
    rms = np.sqrt(np.mean(frames**2, axis=1))
    with np.errstate(divide="ignore"):
        levels = 20 * np.log10(rms)
    clipped: Samples = np.maximum(levels, _MIN_DB).astype(np.float32)
    return clipped


def loudest_window_dbfs(samples: Samples, sample_rate: int) -> float:
    """RMS level of the loudest 50 ms window (AUD-7)."""
    return float(_window_rms_db(samples, sample_rate).max())


def clipped_fraction(samples: Samples) -> float:
    """Fraction of samples at or above 0.999 of full scale in magnitude (AUD-8)."""
    return float(np.mean(np.abs(samples) >= CLIP_LEVEL))


def dc_offset(samples: Samples) -> float:
    """Mean sample value (AUD-9)."""
    return float(np.mean(samples, dtype=np.float64))


def edge_silence(samples: Samples, sample_rate: int) -> tuple[float, float]:
    """Seconds before the first and after the last window within 35 dB of the loudest (AUD-11)."""
    levels = _window_rms_db(samples, sample_rate)
    sounding = np.flatnonzero(levels >= levels.max() - EDGE_SILENCE_RELATIVE_DB)
    size = max(1, round(WINDOW_S * sample_rate))
    leading = sounding[0] * size / sample_rate
    trailing = max(0.0, (len(samples) - (sounding[-1] + 1) * size) / sample_rate)
    return float(leading), float(trailing)


def duration_bounds(text: str) -> tuple[float, float]:
    """Plausible duration in seconds for a text (AUD-10): 1/40 to 1/4 s a character, plus 2 s."""
    characters = len(text.strip())
    return characters / 40.0, characters / 4.0 + 2.0


def median_f0_hz(samples: Samples, sample_rate: int) -> float | None:
    """Median fundamental frequency over voiced frames, by normalised autocorrelation.

    Returns None when fewer than three frames are voiced. Searches 35-900 Hz so that a
    speaker doubled or halved by a wrong sample rate still has a measurable pitch.
    """
    frame = int(0.04 * sample_rate)
    hop = frame // 2
    lag_min, lag_max = int(sample_rate / 900), int(sample_rate / 35)
    if len(samples) < frame or lag_max >= frame:
        return None
    threshold = 10 ** ((loudest_window_dbfs(samples, sample_rate) - 30) / 20)
    estimates = []
    for start in range(0, len(samples) - frame, hop):
        chunk = samples[start : start + frame].astype(np.float64)
        chunk = chunk - chunk.mean()
        if np.sqrt(np.mean(chunk**2)) < threshold:
            continue
        corr = np.correlate(chunk, chunk, mode="full")[frame - 1 :]
        if corr[0] <= 0:
            continue
        corr = corr / corr[0]
        lag = _highest_peak(corr, lag_min, lag_max)
        if lag is not None and corr[lag] > 0.5:
            estimates.append(sample_rate / lag)
    return float(np.median(estimates)) if len(estimates) >= 3 else None


def _highest_peak(corr: npt.NDArray[np.float64], lag_min: int, lag_max: int) -> int | None:
    """The lag of the highest local maximum in [lag_min, lag_max): a plain argmax picks the
    window's edge when the autocorrelation is still falling from lag 0 there (low voices)."""
    window = corr[lag_min - 1 : lag_max + 1]
    peaks = np.flatnonzero((window[1:-1] > window[:-2]) & (window[1:-1] >= window[2:])) + 1
    if peaks.size == 0:
        return None
    return lag_min - 1 + int(peaks[np.argmax(window[peaks])])


@dataclass(frozen=True)
class SpeechRateCues:
    """Cues that scale with a wrong declared sample rate.

    Played at k times its true rate, speech is k times faster and k times brighter, so both
    log2(cue / typical value), of speaking rate and of spectral centroid, move by log2(k). Each
    alone also varies by about an octave between voices and engines (a bright high voice, a text
    of symbols spoken slowly), so ``log2_scale`` counts only what both agree on: the smaller
    offset when they point the same way, else 0. Pitch is reported but not used here; it is
    judged against the voice references instead (``conformance.judges.rate``).
    """

    characters_per_second: float
    f0_hz: float | None
    spectral_centroid_hz: float
    log2_scale: float


_TYPICAL_CPS = 15.0
_TYPICAL_CENTROID_HZ = 1100.0


def _spectral_centroid_hz(samples: Samples, sample_rate: int) -> float:
    levels = _window_rms_db(samples, sample_rate)
    size = max(1, round(WINDOW_S * sample_rate))
    loud = np.flatnonzero(levels >= levels.max() - 30)
    spectrum = np.zeros(size // 2 + 1)
    for index in loud:
        chunk = samples[index * size : (index + 1) * size].astype(np.float64)
        if len(chunk) == size:
            spectrum += np.abs(np.fft.rfft(chunk * np.hanning(size)))
    freqs = np.fft.rfftfreq(size, 1 / sample_rate)
    total = spectrum.sum()
    return float((freqs * spectrum).sum() / total) if total > 0 else 0.0


def speech_rate_cues(samples: Samples, sample_rate: int, text: str) -> SpeechRateCues:
    """Estimate how far the audio's time scale is from ordinary speech (AUD-6 without a judge)."""
    leading, trailing = edge_silence(samples, sample_rate)
    speech_s = max(len(samples) / sample_rate - leading - trailing, WINDOW_S)
    cps = len(text.strip()) / speech_s
    f0 = median_f0_hz(samples, sample_rate)
    centroid = _spectral_centroid_hz(samples, sample_rate)
    by_rate = math.log2(cps / _TYPICAL_CPS)
    by_brightness = math.log2(max(centroid, 1.0) / _TYPICAL_CENTROID_HZ)
    agreed = min(abs(by_rate), abs(by_brightness)) if by_rate * by_brightness > 0 else 0.0
    scale = math.copysign(agreed, by_rate)
    return SpeechRateCues(cps, f0, centroid, scale)


STANDARD_SAMPLE_RATES: tuple[int, ...] = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)

_MIN_REFERENCE_PITCH_SPREAD_LOG2 = 0.4
"""The two references must differ by this much in pitch (0.4 octave) for tracking to show."""
_MAX_TRACKING_ERROR_LOG2 = 0.15
"""The outputs' pitch ratio A/B must match the references' to 0.15 octave to count as tracking."""


@dataclass(frozen=True)
class PitchTracking:
    """How the outputs' pitch relates to the voice references they were made from.

    A provider that clones a voice reproduces its pitch, and a wrong declared rate scales every
    output's pitch by the same factor k while leaving the ratio between two voices unchanged.
    So when the outputs for references A and B keep the references' pitch ratio (``tracks``),
    ``log2_scale``, the mean of log2(output pitch / reference pitch), estimates log2(k).
    """

    tracks: bool
    log2_scale: float
    tracking_error_log2: float
    output_f0_hz: dict[str, float]
    reference_f0_hz: dict[str, float]


def pitch_tracking(
    output_f0_hz: dict[str, list[float]], reference_f0_hz: dict[str, float]
) -> PitchTracking | None:
    """None unless two references with measured, distinct pitches each have outputs."""
    voices = sorted(v for v in reference_f0_hz if output_f0_hz.get(v))
    if len(voices) < 2:
        return None
    first, second = voices[:2]
    spread = math.log2(reference_f0_hz[first] / reference_f0_hz[second])
    if abs(spread) < _MIN_REFERENCE_PITCH_SPREAD_LOG2:
        return None
    outputs = {v: float(np.median(output_f0_hz[v])) for v in (first, second)}
    error = math.log2(outputs[first] / outputs[second]) - spread
    scale = float(np.mean([math.log2(outputs[v] / reference_f0_hz[v]) for v in (first, second)]))
    return PitchTracking(
        tracks=abs(error) <= _MAX_TRACKING_ERROR_LOG2,
        log2_scale=scale,
        tracking_error_log2=error,
        output_f0_hz=outputs,
        reference_f0_hz={v: reference_f0_hz[v] for v in (first, second)},
    )


def nearest_standard_rate(rate: float) -> int:
    return min(STANDARD_SAMPLE_RATES, key=lambda r: abs(math.log2(r / rate)))


@dataclass(frozen=True)
class AudioStats:
    duration_s: float
    loudest_window_dbfs: float
    clipped_fraction: float
    dc_offset: float
    leading_silence_s: float
    trailing_silence_s: float


def measure(samples: Samples, sample_rate: int) -> AudioStats:
    leading, trailing = edge_silence(samples, sample_rate)
    return AudioStats(
        duration_s=len(samples) / sample_rate,
        loudest_window_dbfs=loudest_window_dbfs(samples, sample_rate),
        clipped_fraction=clipped_fraction(samples),
        dc_offset=dc_offset(samples),
        leading_silence_s=leading,
        trailing_silence_s=trailing,
    )
