"""Post-processing of espeak-ng's output: equalisation, vari-speed, level.

Written with numpy's FFT (pocketfft) on purpose: it is single-threaded and gives the same bits
on every call, which the backend's bit-exact seeds rely on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["equalise", "normalise_peak", "vary_speed"]

_FILTER_TAPS: Final = 1024
_HIGH_PASS_HZ: Final = 50.0

Float64Audio = npt.NDArray[np.float64]


def equalise(
    samples: Float64Audio,
    sample_rate: int,
    band_edges_hz: Sequence[float],
    gains_db: Sequence[float],
) -> Float64Audio:
    """Filter ``samples`` with a linear-phase FIR whose gain follows ``gains_db`` per band.

    Gains are placed at the bands' geometric centres and interpolated over log frequency;
    below the first and above the last centre they hold, except that the filter rolls off
    below 50 Hz so that the output carries no DC offset.
    """
    if len(gains_db) != len(band_edges_hz) - 1:
        raise ValueError("one gain per band is needed")
    frequencies = np.fft.rfftfreq(_FILTER_TAPS, d=1.0 / sample_rate)
    centres = np.sqrt(np.asarray(band_edges_hz[:-1]) * np.asarray(band_edges_hz[1:]))
    log_gain = np.interp(
        np.log(np.maximum(frequencies, 1.0)),
        np.log(centres),
        np.asarray(gains_db, dtype=np.float64),
    )
    response = np.power(10.0, log_gain / 20.0) * np.clip(frequencies / _HIGH_PASS_HZ, 0.0, 1.0)
    impulse = np.roll(np.fft.irfft(response, n=_FILTER_TAPS), _FILTER_TAPS // 2)
    impulse *= np.hanning(_FILTER_TAPS)
    size = _fft_size(samples.size + _FILTER_TAPS)
    filtered = np.fft.irfft(np.fft.rfft(samples, size) * np.fft.rfft(impulse, size), size)
    delay = _FILTER_TAPS // 2
    return filtered[delay : delay + samples.size]


def vary_speed(samples: Float64Audio, factor: float) -> Float64Audio:
    """Play ``samples`` ``factor`` times faster: pitch and tempo both scale by ``factor``.

    Band-limited resampling by truncating or zero-padding the spectrum.
    """
    if factor <= 0.0 or not math.isfinite(factor):
        raise ValueError("the speed factor must be a positive number")
    length = samples.size
    new_length = max(1, round(length / factor))
    if new_length == length:
        return samples.copy()
    spectrum = np.fft.rfft(samples)
    bins = new_length // 2 + 1
    if bins <= spectrum.size:
        spectrum = spectrum[:bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - spectrum.size, dtype=spectrum.dtype)])
    return np.fft.irfft(spectrum, n=new_length) * (new_length / length)


def normalise_peak(samples: Float64Audio, peak: float) -> npt.NDArray[np.float32]:
    """Scale to the given peak magnitude and convert to float32 within [-1, 1]."""
    loudest = float(np.max(np.abs(samples))) if samples.size else 0.0
    scaled = samples * (peak / loudest) if loudest > 0.0 else samples
    return np.clip(scaled, -1.0, 1.0).astype(np.float32)


def _fft_size(minimum: int) -> int:
    return 1 << max(0, (minimum - 1).bit_length())
