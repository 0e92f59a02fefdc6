"""Shared fixtures: one backend and the voices made from the bundled references."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from conformance.engine.references import ReferenceClip, reference_voices
from reference_server.backends.espeak import EspeakBackend, EspeakVoice


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    # The analysis works on small tensors; on a shared 2-core machine torch's thread pool spins
    # against other processes and makes it ten times slower. Restored after each module.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def backend() -> Iterator[EspeakBackend]:
    instance = EspeakBackend()
    yield instance
    instance.close()


@pytest.fixture(scope="session")
def references() -> tuple[ReferenceClip, ReferenceClip]:
    return reference_voices()


@pytest.fixture(scope="session")
def prompts(
    backend: EspeakBackend, references: tuple[ReferenceClip, ReferenceClip]
) -> tuple[dict[str, Any], dict[str, Any]]:
    low, high = references
    return (
        backend.create_voice_prompt(low.samples, low.sample_rate, low.text),
        backend.create_voice_prompt(high.samples, high.sample_rate, high.text),
    )


@pytest.fixture(scope="session")
def voices(
    backend: EspeakBackend, prompts: tuple[dict[str, Any], dict[str, Any]]
) -> tuple[EspeakVoice, EspeakVoice]:
    return backend.parse_voice_prompt(prompts[0]), backend.parse_voice_prompt(prompts[1])
