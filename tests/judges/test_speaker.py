"""The speaker judge: it tells the bundled voices apart, and says clearly when it cannot run."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from conformance.engine.references import reference_voices, transcription_clips
from conformance.judges import JudgeUnavailable
from conformance.judges.speaker import INSTALL_HINT, SpeakerJudge

pytestmark = pytest.mark.judges

needs_resemblyzer = pytest.mark.skipif(
    not SpeakerJudge.available(), reason="resemblyzer is not installed"
)
"""Tests that run the model; loading it and librosa takes seconds, so they are also slow."""


@pytest.fixture(scope="module")
def judge() -> Iterator[SpeakerJudge]:
    # Small tensors: on a shared 2-core machine torch's thread pool only spins. Restored after.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield SpeakerJudge()
    torch.set_num_threads(threads)


@needs_resemblyzer
@pytest.mark.slow
def test_provenance_names_the_model(judge: SpeakerJudge) -> None:
    assert judge.name == "resemblyzer"
    assert judge.version == "resemblyzer 0.1.4"


@needs_resemblyzer
@pytest.mark.slow
def test_same_voice_is_closer_than_the_other_voice(judge: SpeakerJudge) -> None:
    voice_a, voice_b = reference_voices()
    same_a = next(clip for clip in transcription_clips() if clip.voice == voice_a.voice)
    same_b = next(clip for clip in transcription_clips() if clip.voice == voice_b.voice)
    a, b = (judge.embed(clip.samples, clip.sample_rate) for clip in (voice_a, voice_b))
    a2, b2 = (judge.embed(clip.samples, clip.sample_rate) for clip in (same_a, same_b))
    same = (judge.similarity(a, a2), judge.similarity(b, b2))
    cross = (judge.similarity(a, b), judge.similarity(a, b2), judge.similarity(b, a2))
    print(f"same-voice {np.round(same, 3)}, cross-voice {np.round(cross, 3)}")
    assert min(same) > max(cross) + 0.1


@needs_resemblyzer
@pytest.mark.slow
def test_embeddings_are_unit_vectors_and_similarity_is_symmetric(judge: SpeakerJudge) -> None:
    voice_a, voice_b = reference_voices()
    a = judge.embed(voice_a.samples, voice_a.sample_rate)
    b = judge.embed(voice_b.samples, voice_b.sample_rate)
    assert a.shape == (256,)
    assert a.dtype == np.float32
    assert float(np.linalg.norm(a)) == pytest.approx(1.0, abs=1e-4)
    assert judge.similarity(a, a) == pytest.approx(1.0, abs=1e-6)
    assert judge.similarity(a, b) == pytest.approx(judge.similarity(b, a))
    assert judge.compare(
        voice_a.samples, voice_a.sample_rate, voice_b.samples, voice_b.sample_rate
    ) == pytest.approx(judge.similarity(a, b), abs=1e-6)


@needs_resemblyzer
@pytest.mark.slow
def test_embedding_does_not_depend_much_on_the_sample_rate(judge: SpeakerJudge) -> None:
    clip = reference_voices()[0]
    doubled = np.repeat(clip.samples, 2)  # crude 32 kHz version of the same speech
    similarity = judge.similarity(
        judge.embed(clip.samples, clip.sample_rate), judge.embed(doubled, clip.sample_rate * 2)
    )
    assert similarity > 0.95


@needs_resemblyzer
@pytest.mark.slow
def test_one_judge_can_be_shared_between_threads(judge: SpeakerJudge) -> None:
    clips = [*reference_voices(), *transcription_clips()]
    alone = [judge.embed(clip.samples, clip.sample_rate) for clip in clips]
    results: dict[int, np.ndarray] = {}

    def work(index: int) -> None:
        results[index] = judge.embed(clips[index].samples, clips[index].sample_rate)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(clips))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for index, embedding in enumerate(alone):
        np.testing.assert_allclose(results[index], embedding, atol=1e-5)


@needs_resemblyzer
@pytest.mark.slow
@pytest.mark.parametrize(
    ("samples", "rate", "message"),
    [
        (np.zeros((100, 2), dtype=np.float32), 16_000, "mono"),
        (np.zeros(0, dtype=np.float32), 16_000, "mono"),
        (np.full(16_000, np.nan, dtype=np.float32), 16_000, "finite"),
        (np.zeros(16_000, dtype=np.float32), 4_000, "8-48 kHz"),
        (np.zeros(16_000, dtype=np.float32), 16_000, "no speech"),
    ],
)
def test_unusable_audio_is_a_value_error(
    judge: SpeakerJudge, samples: np.ndarray, rate: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        judge.embed(samples, rate)


def test_zero_embedding_cannot_be_compared() -> None:
    with pytest.raises(ValueError, match="zero"):
        SpeakerJudge.similarity(np.zeros(256, np.float32), np.ones(256, np.float32))


def test_missing_resemblyzer_is_a_clear_unavailable_condition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "resemblyzer", None)  # import now raises ImportError
    judge = SpeakerJudge()
    tone = np.sin(np.arange(16_000, dtype=np.float32) * 0.1)
    with pytest.raises(JudgeUnavailable) as error:
        judge.embed(tone, 16_000)
    assert error.value.install_hint == INSTALL_HINT
    assert "resemblyzer" in str(error.value)
    assert "pip install" in str(error.value)
    assert isinstance(error.value, RuntimeError)


def test_availability_reflects_the_installed_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def without_webrtcvad(name: str, *args: object) -> object:
        return None if name == "webrtcvad" else real_find_spec(name)

    monkeypatch.setattr(importlib.util, "find_spec", without_webrtcvad)
    assert SpeakerJudge.available() is False
