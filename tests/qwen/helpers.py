"""Shared test inputs for the qwen backend tests."""

from __future__ import annotations

import importlib.util

import numpy as np
import numpy.typing as npt
import pytest

REFERENCE_TEXT = "A tiny voice for a tiny model."
SAMPLE_RATE = 24000


def require_qwen_tts() -> None:
    if importlib.util.find_spec("qwen_tts") is None:
        pytest.skip("qwen-tts (the `qwen` extra) is not installed")


def voiced_signal(
    seconds: float, *, pitch_hz: float = 120.0, seed: int = 0
) -> npt.NDArray[np.float32]:
    """A buzzy, pitch-gliding, syllable-modulated signal with a little breath noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = pitch_hz * (1 + 0.2 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    buzz = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    signal = 0.15 * buzz * syllables + 0.01 * rng.standard_normal(t.size)
    return signal.astype(np.float32)
