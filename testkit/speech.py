"""Real speech for tests and measurements that need a voice without a network: the reference
server's espeak-ng engine, spoken plain."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from reference_server.backends import espeak

__all__ = ["synthesize_espeak"]


def synthesize_espeak(text: str, voice: str = "en-us") -> tuple[npt.NDArray[np.float32], int]:
    """Speak ``text`` with the reference server's espeak-ng engine, plain: the voice's own pitch
    and range at 175 words per minute. Returns (samples, rate)."""
    request = espeak.SynthesisRequest(text=text, voice=voice, rate=175, pitch=50, range=50, seed=0)
    samples = espeak.synthesize(request).astype(np.float32) / 32768.0
    return samples, espeak.engine_info().sample_rate
