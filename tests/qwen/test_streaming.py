"""qwen streams sentence by sentence on the tiny checkpoint (SPEC.md §14): the first sentence
leaves before the others are generated, and a seeded stream is the whole clip."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reference_server.backends.base import GenerateJob, StreamingTTSBackend
from reference_server.backends.qwen import ParsedVoice, QwenBackend

TEXT = "Hello world. The cat sat. Good night!"


def test_the_first_sentence_leaves_before_the_rest_is_generated(
    backend: QwenBackend, voice: ParsedVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(backend, StreamingTTSBackend)
    calls: list[str] = []
    original = backend._generate_batch

    def counting(batch: list[GenerateJob], languages: list[str]) -> Any:
        calls.append(batch[0].text)
        return original(batch, languages)

    monkeypatch.setattr(backend, "_generate_batch", counting)
    stream = backend.stream(GenerateJob(text=TEXT, voice=voice, language="en", seed=3))
    first = next(stream)
    assert first.samples.size > 0
    assert calls == ["Hello world."]  # generation of the rest has not begun
    assert len(list(stream)) == 2
    assert calls == ["Hello world.", "The cat sat.", "Good night!"]


def test_a_seeded_stream_is_the_whole_clip(backend: QwenBackend, voice: ParsedVoice) -> None:
    job = GenerateJob(text=TEXT, voice=voice, language="en", seed=11)
    streamed = np.concatenate([piece.samples for piece in backend.stream(job)])
    [whole] = backend.generate([job])
    assert streamed.tobytes() == whole.samples.tobytes()
