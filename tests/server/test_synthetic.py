"""The synthetic backend: deterministic, text-length duration, valid audio, real prompts."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from reference_server.backends.base import (
    BackendError,
    GenerateJob,
    TTSBackend,
    VoicePromptError,
)
from reference_server.backends.synthetic import SyntheticBackend, _checksum, _estimate_f0
from voicebox_api import encode_audio


def _tone(frequency: float, seconds: float = 1.0, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture
def backend() -> SyntheticBackend:
    return SyntheticBackend()


def _job(
    backend: SyntheticBackend, text: str, seed: int | None = 1, f0: float = 150.0
) -> GenerateJob:
    prompt = backend.create_voice_prompt(_tone(f0), 16_000, "")
    return GenerateJob(
        text=text, voice=backend.parse_voice_prompt(prompt), language="en", seed=seed
    )


def test_implements_the_protocol(backend: SyntheticBackend) -> None:
    assert isinstance(backend, TTSBackend)


def test_prompt_measures_the_reference_pitch(backend: SyntheticBackend) -> None:
    for f0 in (100.0, 220.0, 330.0):
        prompt = backend.create_voice_prompt(_tone(f0), 16_000, "")
        assert prompt["f0_hz"] == pytest.approx(f0, rel=0.03)


def test_prompt_survives_json_round_trips_including_javascript_style(
    backend: SyntheticBackend,
) -> None:
    prompt = backend.create_voice_prompt(_tone(150.0), 16_000, "")
    again = json.loads(json.dumps(prompt))
    assert backend.parse_voice_prompt(again) == backend.parse_voice_prompt(prompt)
    # JavaScript writes 150.0 as 150: a prompt with an integral feature must survive that.
    features = {"f0_hz": 150.0, "brightness": prompt["brightness"], "rms": prompt["rms"]}
    integral = {**prompt, **features, "check": _checksum(features)}
    backend.parse_voice_prompt(integral)
    backend.parse_voice_prompt(json.loads(json.dumps(integral).replace("150.0", "150")))


@pytest.mark.parametrize(
    "prompt",
    [{}, {"kind": "synthetic-voice/1"}, [], {"f0_hz": 1, "brightness": 1, "rms": 1, "check": "x"}],
)
def test_garbage_prompts_are_refused(backend: SyntheticBackend, prompt: object) -> None:
    with pytest.raises(VoicePromptError):
        backend.parse_voice_prompt(prompt)  # type: ignore[arg-type]


def test_non_finite_or_tampered_features_are_refused(backend: SyntheticBackend) -> None:
    prompt = backend.create_voice_prompt(_tone(150.0), 16_000, "")
    for field, value in (("f0_hz", float("nan")), ("rms", True), ("f0_hz", 151.0), ("check", 5)):
        with pytest.raises(VoicePromptError):
            backend.parse_voice_prompt({**prompt, field: value})


def test_too_short_reference_is_refused(backend: SyntheticBackend) -> None:
    with pytest.raises(BackendError):
        backend.create_voice_prompt(_tone(150.0, seconds=0.01), 16_000, "")


def test_seeded_generation_is_bit_identical_and_unseeded_differs(backend: SyntheticBackend) -> None:
    seeded = _job(backend, "Repeat after me.", seed=42)
    first, second = backend.generate([seeded])[0], backend.generate([seeded])[0]
    assert first.samples.tobytes() == second.samples.tobytes()
    other_seed = backend.generate([_job(backend, "Repeat after me.", seed=43)])[0]
    assert other_seed.samples.tobytes() != first.samples.tobytes()
    unseeded = _job(backend, "Repeat after me.", seed=None)
    assert (
        backend.generate([unseeded])[0].samples.tobytes()
        != backend.generate([unseeded])[0].samples.tobytes()
    )


def test_batched_and_alone_give_the_same_audio() -> None:
    backend = SyntheticBackend(max_batch_size=4)
    jobs = [_job(backend, f"Sentence {i}.", seed=i) for i in range(3)]
    alone = [backend.generate([job])[0].samples.tobytes() for job in jobs]
    together = [result.samples.tobytes() for result in backend.generate(jobs)]
    assert alone == together


def test_duration_follows_text_length_within_spec_bounds(backend: SyntheticBackend) -> None:
    durations = []
    for text in ("Hi.", "A medium length sentence here.", "x" * 500):
        result = backend.generate([_job(backend, text)])[0]
        seconds = result.samples.shape[0] / result.sample_rate
        assert len(text) / 40 <= seconds <= len(text) / 4 + 2  # AUD-10
        durations.append(seconds)
    assert durations == sorted(durations)


def test_audio_is_valid_on_the_wire(backend: SyntheticBackend) -> None:
    result = backend.generate([_job(backend, "Grüße aus 東京!")])[0]
    assert result.samples.dtype == np.float32
    assert result.sample_rate == 24_000
    encode_audio(result.samples)  # finite, in range, non-empty
    samples = result.samples.astype(np.float64)
    assert np.max(np.abs(samples)) < 0.999  # AUD-8
    assert abs(samples.mean()) < 0.02  # AUD-9


def test_the_voice_steers_the_pitch(backend: SyntheticBackend) -> None:
    low = backend.generate([_job(backend, "aaaa", f0=100.0)])[0].samples
    high = backend.generate([_job(backend, "aaaa", f0=300.0)])[0].samples

    # The same estimator that measures references (checked on pure tones above).
    low_f0 = _estimate_f0(low.astype(np.float64), 24_000)
    high_f0 = _estimate_f0(high.astype(np.float64), 24_000)
    assert low_f0 == pytest.approx(100.0, rel=0.1)
    assert high_f0 == pytest.approx(300.0, rel=0.1)


def test_latency_option_delays_each_call() -> None:
    backend = SyntheticBackend.from_options({"latency_ms": "50"})
    started = time.perf_counter()
    backend.generate([_job(backend, "wait")])
    assert time.perf_counter() - started >= 0.05


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        SyntheticBackend.from_options({"speed": "fast"})


def test_oversized_batches_are_refused(backend: SyntheticBackend) -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        backend.generate([_job(backend, "a"), _job(backend, "b")])
