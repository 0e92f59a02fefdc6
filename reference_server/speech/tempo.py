"""``speed``: the same voice and pitch, faster or slower, with FFmpeg's ``atempo`` (PyAV).

``atempo`` takes factors from 0.5 to 100, so the speeds below 0.5 that OpenAI allows (down to
0.25) run as a chain of two filters.
"""

from __future__ import annotations

import av
import av.filter
import numpy as np
import numpy.typing as npt

__all__ = ["change_speed"]

FloatAudio = npt.NDArray[np.float32]


def _factors(speed: float) -> list[float]:
    factors = []
    while speed < 0.5:
        factors.append(0.5)
        speed /= 0.5
    factors.append(speed)
    return factors


def change_speed(samples: FloatAudio, rate: int, speed: float) -> FloatAudio:
    if speed == 1.0 or samples.size == 0:
        return samples
    graph = av.filter.Graph()
    node = graph.add_abuffer(format="flt", sample_rate=rate, layout="mono")
    source = node
    for factor in _factors(speed):
        tempo = graph.add("atempo", f"{factor:.6f}")
        node.link_to(tempo)
        node = tempo
    sink = graph.add("abuffersink")
    node.link_to(sink)
    graph.configure()
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    source.push(frame)
    source.push(None)
    chunks = []
    while True:
        try:
            out = sink.pull()
        except (av.BlockingIOError, av.EOFError):
            break
        assert isinstance(out, av.AudioFrame)
        chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else samples[:0]
