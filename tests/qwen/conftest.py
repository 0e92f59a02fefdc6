"""Fixtures for the qwen backend: a tiny random checkpoint built once per session, on CPU.

Tests that need ``qwen_tts`` (the ``qwen`` extra) take the ``backend`` fixture, or call
``require_qwen_tts()``, and are skipped without it; the pure ones (prompt codec, languages,
batching rules, the torchaudio guard) need only torch and pydantic.

The tiny model is so small that torch's intra-op threads only add contention (the CI machine
has 2 shared cores), so the session runs torch on one thread; results stay bit-exact within the
session, which is all the determinism tests compare. The setting is restored after each module,
so other test directories run with torch's default.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch

from reference_server.backends.qwen import ParsedVoice, QwenBackend
from tests.qwen.helpers import REFERENCE_TEXT, SAMPLE_RATE, require_qwen_tts, voiced_signal
from voicebox_api import read_audio


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that load the tiny model need qwen-tts: mark them `qwen` (see pyproject)."""
    for item in items:
        if "tiny_checkpoint" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.qwen)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_qwen_tts()
    from testkit.qwen_tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("qwen") / "tiny-qwen3-tts")


@pytest.fixture(scope="session")
def backend(tiny_checkpoint: Path) -> Iterator[QwenBackend]:
    loaded = QwenBackend.load(tiny_checkpoint, device="cpu")
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def reference_audio(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[npt.NDArray[np.float32], int]:
    """Real speech from flite when it is installed, else a 2 s synthetic voiced signal."""
    flite = shutil.which("flite")
    if flite is not None:
        path = tmp_path_factory.mktemp("flite") / "reference.wav"
        subprocess.run([flite, "-t", REFERENCE_TEXT, "-o", str(path)], check=True, timeout=30)
        return read_audio(path.read_bytes())
    return voiced_signal(seconds=2.0), SAMPLE_RATE


@pytest.fixture(scope="session")
def voice_prompt(
    backend: QwenBackend, reference_audio: tuple[npt.NDArray[np.float32], int]
) -> dict[str, object]:
    audio, rate = reference_audio
    return backend.create_voice_prompt(audio, rate, REFERENCE_TEXT)


@pytest.fixture(scope="session")
def voice(backend: QwenBackend, voice_prompt: dict[str, object]) -> ParsedVoice:
    return backend.parse_voice_prompt(voice_prompt)
