"""The WAV answer of SPEC.md §14.3 keeps the exact samples, rate and dtype."""

from __future__ import annotations

import numpy as np
import pytest

from voicebox_api import WavAnswerError, decode_wav, encode_wav, write_audio

SAMPLES = (np.sin(np.linspace(0, 30, 3001)) * 0.5).astype(np.float32)


@pytest.mark.parametrize("dtype", ["int16", "int32", "float32", "float64"])
def test_every_dtype_round_trips_exactly(dtype: str) -> None:
    wire = (SAMPLES * 30000).astype(dtype) if dtype.startswith("int") else SAMPLES.astype(dtype)
    decoded = decode_wav(encode_wav(wire, 22050, dtype))  # type: ignore[arg-type]
    assert (decoded.dtype, decoded.sample_rate) == (dtype, 22050)
    assert decoded.samples.tobytes() == wire.tobytes()


def test_stereo_and_garbage_are_refused() -> None:
    with pytest.raises(WavAnswerError, match="mono"):
        decode_wav(write_audio(np.zeros((100, 2), dtype=np.float32), 16000))
    with pytest.raises(WavAnswerError):
        decode_wav(b"RIFF nonsense")
