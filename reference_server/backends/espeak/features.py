"""Voice features of a reference recording, measured with torch.

The espeak backend cannot clone a voice; it can only move its own voices towards a reference.
These are the features that move it: the median fundamental frequency (which picks the
espeak voice variant and its pitch), the spread of the pitch (its intonation range), the
modulation rate (its speaking rate) and the long-term average spectrum (which an equaliser
imposes on the output: the timbre of the recording, voice and microphone together).

Pitch is tracked with YIN (de Cheveigné & Kawahara, 2002) on 64 ms frames every 10 ms; the
speaking rate is the centroid of the syllable-rate modulation spectrum of the vowel-band
envelope. Both are a few lines of tensor code, so they are written here rather than pulling in
a signal-processing dependency (librosa, scipy) that the server does not otherwise need.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import torch

__all__ = [
    "ANALYSIS_RATE",
    "F0_MAX_HZ",
    "F0_MIN_HZ",
    "MAX_ANALYSIS_SECONDS",
    "MIN_VOICED_SECONDS",
    "SPECTRUM_BAND_EDGES_HZ",
    "ReferenceTooWeakError",
    "VoiceFeatures",
    "measure_voice",
]

ANALYSIS_RATE: Final = 16_000
F0_MIN_HZ: Final = 50.0
F0_MAX_HZ: Final = 500.0
MAX_ANALYSIS_SECONDS: Final = 30.0
"""Only the first 30 s of a reference are analysed; more adds cost, not information."""
MIN_VOICED_SECONDS: Final = 0.5
"""A reference needs at least this much voiced speech for a usable pitch estimate."""

_HOP: Final = 160  # 10 ms at 16 kHz
_FRAME: Final = 1024  # 64 ms: a 44 ms YIN integration window plus the longest lag (20 ms)
_TAU_MIN: Final = int(ANALYSIS_RATE / F0_MAX_HZ)
_TAU_MAX: Final = math.ceil(ANALYSIS_RATE / F0_MIN_HZ)
_WINDOW: Final = _FRAME - _TAU_MAX
_YIN_THRESHOLD: Final = 0.15
_VOICED_MAX_CMNDF: Final = 0.3
_SILENCE_BELOW_PEAK_DB: Final = 35.0
_SILENT_PEAK_DBFS: Final = -60.0
_VOWEL_BAND_HZ: Final = (250.0, 2500.0)
_MODULATION_BAND_HZ: Final = (1.0, 10.0)
_MODULATION_FFT: Final = 4096
_SPECTRUM_FLOOR_DB: Final = 60.0


def _mel_band_edges(low_hz: float, high_hz: float, bands: int) -> tuple[float, ...]:
    def to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    low, high = to_mel(low_hz), to_mel(high_hz)
    mels = [low + (high - low) * index / bands for index in range(bands + 1)]
    return tuple(700.0 * (10.0 ** (mel / 2595.0) - 1.0) for mel in mels)


SPECTRUM_BAND_EDGES_HZ: Final = _mel_band_edges(80.0, 7_600.0, 24)
"""Edges of the 24 mel-spaced bands of ``VoiceFeatures.spectrum_db``."""


class ReferenceTooWeakError(ValueError):
    """The reference holds too little voiced speech to measure a voice from."""


@dataclass(frozen=True)
class VoiceFeatures:
    """What the espeak backend keeps of a reference voice."""

    f0_median_hz: float
    """Median fundamental frequency of voiced frames."""
    f0_spread_semitones: float
    """Half the distance between the 10th and 90th percentile of pitch, in semitones."""
    modulation_rate_hz: float
    """Centroid of the envelope's 1-10 Hz modulation spectrum: a speaking-rate measure."""
    spectrum_db: tuple[float, ...]
    """Long-term average spectrum of speech in the mel bands of ``SPECTRUM_BAND_EDGES_HZ``,
    in dB relative to the mean over the bands; no band lies more than 60 dB below the loudest."""
    voiced_seconds: float
    """How much voiced speech the estimates rest on."""


def measure_voice(samples: npt.NDArray[np.float32], sample_rate: int) -> VoiceFeatures:
    """Measure the voice of mono float32 ``samples``.

    Raises ReferenceTooWeakError when the audio is silent or holds less than
    ``MIN_VOICED_SECONDS`` of voiced speech.
    """
    signal = _prepare(samples, sample_rate)
    frames = _frames(signal)
    level_db = _frame_level_db(frames)
    peak_db = float(level_db.max()) if level_db.numel() else -math.inf
    if peak_db < _SILENT_PEAK_DBFS:
        raise ReferenceTooWeakError("the reference audio is silent")
    active = level_db > peak_db - _SILENCE_BELOW_PEAK_DB
    f0, periodic = _yin(frames)
    voiced = active & periodic
    voiced_seconds = int(voiced.sum()) * _HOP / ANALYSIS_RATE
    if voiced_seconds < MIN_VOICED_SECONDS:
        raise ReferenceTooWeakError(
            f"the reference holds {voiced_seconds:.2f} s of voiced speech; "
            f"at least {MIN_VOICED_SECONDS:.1f} s is needed"
        )
    semitones = 12.0 * torch.log2(f0[voiced] / 100.0)
    low, median, high = torch.quantile(
        semitones, torch.tensor([0.1, 0.5, 0.9], dtype=semitones.dtype)
    ).tolist()
    return VoiceFeatures(
        f0_median_hz=100.0 * 2.0 ** (median / 12.0),
        f0_spread_semitones=(high - low) / 2.0,
        modulation_rate_hz=_modulation_rate(_vowel_band_level_db(frames)),
        spectrum_db=_long_term_spectrum(frames[active]),
        voiced_seconds=voiced_seconds,
    )


def _prepare(samples: npt.NDArray[np.float32], sample_rate: int) -> torch.Tensor:
    """Mono float64 at the analysis rate, at most MAX_ANALYSIS_SECONDS long."""
    limit = int(MAX_ANALYSIS_SECONDS * sample_rate)
    signal = torch.from_numpy(np.asarray(samples[:limit], dtype=np.float64))
    signal = _resample(signal, sample_rate, ANALYSIS_RATE)
    signal = signal - signal.mean()
    # Pad so that the last samples reach a frame and short clips still make one frame.
    return torch.nn.functional.pad(signal, (0, _FRAME))


def _resample(signal: torch.Tensor, rate: int, target: int) -> torch.Tensor:
    """Band-limited resampling by truncating or zero-padding the spectrum.

    Exact for the ideal low-pass, which is all the analysis needs; it keeps the server free
    of torchaudio (whose PyPI builds do not load next to a CPU torch) and of scipy.
    """
    if rate == target or signal.numel() == 0:
        return signal
    length = signal.numel()
    new_length = max(1, round(length * target / rate))
    spectrum = torch.fft.rfft(signal)
    bins = new_length // 2 + 1
    if bins <= spectrum.numel():
        spectrum = spectrum[:bins]
    else:
        spectrum = torch.nn.functional.pad(spectrum, (0, bins - spectrum.numel()))
    resampled: torch.Tensor = torch.fft.irfft(spectrum, n=new_length) * (new_length / length)
    return resampled


def _frames(signal: torch.Tensor) -> torch.Tensor:
    if signal.numel() < _FRAME:
        signal = torch.nn.functional.pad(signal, (0, _FRAME - signal.numel()))
    return signal.unfold(0, _FRAME, _HOP)


def _frame_level_db(frames: torch.Tensor) -> torch.Tensor:
    """RMS level in dBFS of each frame's YIN integration window (its first 44 ms)."""
    power = frames[:, :_WINDOW].pow(2).mean(dim=1)
    return 10.0 * torch.log10(power + 1e-12)


def _vowel_band_level_db(frames: torch.Tensor) -> torch.Tensor:
    """Level in the band of the first two formants, where syllable nuclei stand out."""
    window = torch.hann_window(_WINDOW, dtype=frames.dtype)
    power = torch.fft.rfft(frames[:, :_WINDOW] * window, n=_FRAME).abs().pow(2)
    frequencies = torch.fft.rfftfreq(_FRAME, d=1.0 / ANALYSIS_RATE, dtype=frames.dtype)
    low, high = _VOWEL_BAND_HZ
    band = (frequencies >= low) & (frequencies <= high)
    return 10.0 * torch.log10(power[:, band].sum(dim=1) + 1e-12)


def _yin(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """YIN pitch per frame: (f0 in Hz, whether the frame is periodic)."""
    taus = torch.arange(_TAU_MAX + 1)
    size = 2 * _FRAME
    head = frames[:, :_WINDOW]
    cross = torch.fft.irfft(
        torch.fft.rfft(frames, n=size) * torch.fft.rfft(head, n=size).conj(), n=size
    )[:, : _TAU_MAX + 1]
    energy = torch.nn.functional.pad(frames.pow(2).cumsum(dim=1), (1, 0))
    shifted_energy = energy[:, taus + _WINDOW] - energy[:, taus]
    difference = (head.pow(2).sum(dim=1, keepdim=True) + shifted_energy - 2.0 * cross).clamp(
        min=0.0
    )
    running_mean = difference[:, 1:].cumsum(dim=1) / taus[1:]
    cmndf = torch.ones_like(difference)
    cmndf[:, 1:] = difference[:, 1:] / running_mean.clamp(min=1e-12)

    in_range = (taus >= _TAU_MIN) & (taus <= _TAU_MAX)
    below = (cmndf < _YIN_THRESHOLD) & in_range
    has_dip = below.any(dim=1)
    first = torch.where(
        has_dip, below.int().argmax(dim=1), torch.zeros_like(has_dip, dtype=torch.long)
    )
    # The dip's minimum: the smallest value in the run below the threshold that starts at `first`.
    after_first = taus.unsqueeze(0) >= first.unsqueeze(1)
    run = torch.cumprod((below | ~after_first).int(), dim=1).bool() & after_first
    masked = torch.where(run, cmndf, torch.full_like(cmndf, math.inf))
    dip_tau = masked.argmin(dim=1)
    global_tau = torch.where(in_range, cmndf, torch.full_like(cmndf, math.inf)).argmin(dim=1)
    tau = torch.where(has_dip, dip_tau, global_tau)
    best = cmndf.gather(1, tau.unsqueeze(1)).squeeze(1)
    refined = _parabolic(cmndf, tau)
    f0 = ANALYSIS_RATE / refined
    periodic = (best < _VOICED_MAX_CMNDF) & (f0 >= F0_MIN_HZ) & (f0 <= F0_MAX_HZ)
    return f0, periodic


def _parabolic(curve: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Sub-sample position of the minimum at ``index`` by a parabola through its neighbours."""
    left = curve.gather(1, (index - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
    centre = curve.gather(1, index.unsqueeze(1)).squeeze(1)
    right = curve.gather(1, (index + 1).clamp(max=curve.shape[1] - 1).unsqueeze(1)).squeeze(1)
    denominator = left - 2.0 * centre + right
    offset = torch.where(
        denominator.abs() > 1e-12, 0.5 * (left - right) / denominator, torch.zeros_like(centre)
    )
    return index.to(curve.dtype) + offset.clamp(-1.0, 1.0)


def _modulation_rate(vowel_level_db: torch.Tensor) -> float:
    """Centroid of the 1-10 Hz modulation spectrum of the vowel-band amplitude envelope.

    Syllables modulate the envelope at the syllable rate, so this tracks the speaking rate; it
    is steadier across voices than counting intensity peaks, which depends on voicing detection.
    """
    envelope = torch.pow(10.0, vowel_level_db / 20.0)
    envelope = envelope / envelope.max().clamp(min=1e-12)
    envelope = (envelope - envelope.mean()) * torch.hann_window(
        envelope.numel(), dtype=envelope.dtype
    )
    size = max(_MODULATION_FFT, envelope.numel())
    power = torch.fft.rfft(envelope, n=size).abs().pow(2)
    frequencies = torch.fft.rfftfreq(size, d=_HOP / ANALYSIS_RATE, dtype=envelope.dtype)
    low, high = _MODULATION_BAND_HZ
    band = (frequencies >= low) & (frequencies <= high)
    total = power[band].sum()
    if float(total) <= 0.0:
        return 0.0
    return float((power[band] * frequencies[band]).sum() / total)


def _long_term_spectrum(frames: torch.Tensor) -> tuple[float, ...]:
    window = torch.hann_window(_FRAME, dtype=frames.dtype)
    power = torch.fft.rfft(frames * window).abs().pow(2).mean(dim=0)
    frequencies = torch.fft.rfftfreq(_FRAME, d=1.0 / ANALYSIS_RATE, dtype=frames.dtype)
    edges = SPECTRUM_BAND_EDGES_HZ
    levels = torch.stack(
        [
            power[(frequencies >= low) & (frequencies < high)].mean()
            for low, high in itertools.pairwise(edges)
        ]
    )
    decibels = 10.0 * torch.log10(levels + 1e-20)
    # Band-limited recordings (8 or 11 kHz) have empty top bands: floor them, 60 dB down.
    decibels = decibels.clamp(min=float(decibels.max()) - _SPECTRUM_FLOOR_DB)
    return tuple((decibels - decibels.mean()).tolist())
