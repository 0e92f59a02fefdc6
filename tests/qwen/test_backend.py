"""The qwen backend end to end on CPU: the real qwen_tts code path with a tiny random model."""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from reference_server.backends.base import (
    BackendError,
    GenerateJob,
    Synthesis,
    TTSBackend,
    UnsupportedLanguageError,
    VoicePromptError,
)
from reference_server.backends.qwen import (
    MAX_REFERENCE_SECONDS,
    ParsedVoice,
    QwenBackend,
    UnsupportedModelError,
)
from reference_server.backends.qwen import (
    backend as backend_module,
)
from reference_server.backends.qwen.backend import _display_name
from reference_server.backends.qwen.prompt import PromptLimits
from tests.qwen.helpers import REFERENCE_TEXT, SAMPLE_RATE, require_qwen_tts, voiced_signal

Audio = tuple[npt.NDArray[np.float32], int]
SAMPLES_PER_FRAME = 1920


def job(
    voice: ParsedVoice, text: str = "Hello world.", seed: int | None = 7, language: str = "en"
) -> GenerateJob:
    return GenerateJob(text=text, voice=voice, language=language, seed=seed)


def assert_valid_clip(synthesis: Synthesis) -> None:
    samples = synthesis.samples
    assert synthesis.sample_rate == 24000
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert samples.size > 0
    assert np.isfinite(samples).all()
    assert np.abs(samples).max() <= 1.0
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 1e-3, "the tiny model is audible"


def sibling(backend: QwenBackend, **options: Any) -> QwenBackend:
    """Another backend over the same loaded model (no second load)."""
    return QwenBackend(backend._tts, model_name=backend.model, device="cpu", **options)


# -- loading -------------------------------------------------------------------------------------


def test_loads_the_tiny_checkpoint_through_from_pretrained(backend: QwenBackend) -> None:
    assert isinstance(backend, TTSBackend)
    assert backend.name == "qwen"
    assert backend.model == "tiny-qwen3-tts"
    assert backend.device == "cpu"
    assert backend.sample_rate == 24000
    assert backend.languages == ("en", "zh", "ja", "ko", "de", "fr", "ru", "pt", "es", "it")
    assert backend.deterministic is True
    assert backend.max_batch_size >= 1
    assert backend._tts.model.dtype == torch.float32


def test_tiny_checkpoint_has_the_published_layout(tiny_checkpoint: Path) -> None:
    for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"):
        assert (tiny_checkpoint / name).is_file()
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        assert (tiny_checkpoint / "speech_tokenizer" / name).is_file()
    config = json.loads((tiny_checkpoint / "config.json").read_text(encoding="utf-8"))
    assert config["tts_model_type"] == "base"
    assert "model_type" not in config["speaker_encoder_config"]


def test_tiny_checkpoint_is_reproducible_and_leaves_the_caller_rng_alone(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from testkit.qwen_tiny import build_tiny_checkpoint

    before = torch.random.get_rng_state()
    again = build_tiny_checkpoint(tmp_path / "again")
    other = build_tiny_checkpoint(tmp_path / "other", seed=1)

    assert torch.equal(before, torch.random.get_rng_state())
    for weights in ("model.safetensors", "speech_tokenizer/model.safetensors"):
        assert (again / weights).read_bytes() == (tiny_checkpoint / weights).read_bytes()
        assert (other / weights).read_bytes() != (tiny_checkpoint / weights).read_bytes()


def test_tiny_checkpoint_tokenizes_the_chat_template_as_qwen_slices_it(
    backend: QwenBackend,
) -> None:
    tokenizer = backend._tts.processor.tokenizer
    assert len(tokenizer("<|im_start|>assistant\n")["input_ids"]) == 3
    assert len(tokenizer("<|im_end|>\n<|im_start|>assistant\n")["input_ids"]) == 5


@pytest.mark.qwen
def test_non_base_models_are_refused_before_loading(tmp_path: Path) -> None:
    require_qwen_tts()
    from testkit.qwen_tiny import build_tiny_checkpoint

    directory = build_tiny_checkpoint(tmp_path / "custom", tts_model_type="custom_voice")
    with pytest.raises(UnsupportedModelError, match="custom_voice"):
        QwenBackend.load(directory, device="cpu")


def test_non_base_models_are_refused_after_loading_too(
    backend: QwenBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend._tts.model, "tts_model_type", "voice_design")
    with pytest.raises(UnsupportedModelError, match="voice_design"):
        sibling(backend)


def test_unknown_sampling_options_are_refused(backend: QwenBackend) -> None:
    with pytest.raises(ValueError, match="unknown sampling options"):
        sibling(backend, sampling={"top_k": 5, "temprature": 0.5})


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("Qwen/Qwen3-TTS-12Hz-1.7B-Base", "Qwen/Qwen3-TTS-12Hz-1.7B-Base"),
        (
            "hub/models--Qwen--Qwen3-TTS-12Hz-0.6B-Base/snapshots/0123abc",
            "Qwen/Qwen3-TTS-12Hz-0.6B-Base",
        ),
        ("checkpoints/my-voice-model", "my-voice-model"),
    ],
)
def test_display_names_never_show_a_path(tmp_path: Path, given: str, shown: str) -> None:
    if not given.startswith("Qwen/"):
        (tmp_path / given).mkdir(parents=True)
        given = str(tmp_path / given)
    assert _display_name(given) == shown


# -- voice prompts -------------------------------------------------------------------------------


def test_icl_prompt_from_real_audio(backend: QwenBackend, reference_audio: Audio) -> None:
    audio, rate = reference_audio
    prompt = backend.create_voice_prompt(audio, rate, f"  {REFERENCE_TEXT}\n")

    assert prompt["engine"] == "qwen3-tts"
    assert prompt["format"] == 1
    assert prompt["model"] == "tiny-qwen3-tts"
    item = prompt["items"][0]
    assert item["icl_mode"] is True
    assert item["x_vector_only_mode"] is False
    assert item["ref_text"] == REFERENCE_TEXT
    assert item["ref_code"]["dtype"] == "int64"
    frames, groups = item["ref_code"]["shape"]
    assert groups == 4
    assert abs(frames - len(audio) / rate * 12.5) <= 1
    assert item["ref_spk_embedding"]["dtype"] == "float32"
    assert item["ref_spk_embedding"]["shape"] == [32]


def test_prompt_json_round_trip_is_bit_exact_against_the_package(
    backend: QwenBackend, reference_audio: Audio
) -> None:
    audio, rate = reference_audio
    [direct] = backend._tts.create_voice_clone_prompt(
        ref_audio=(audio, rate), ref_text=REFERENCE_TEXT, x_vector_only_mode=False
    )

    text = json.dumps(backend.create_voice_prompt(audio, rate, REFERENCE_TEXT))
    voice = backend.parse_voice_prompt(json.loads(text))

    assert voice.ref_code is not None
    assert torch.equal(voice.ref_code, direct.ref_code)
    assert voice.speaker_embedding.dtype == direct.ref_spk_embedding.dtype
    assert voice.speaker_embedding.numpy().tobytes() == direct.ref_spk_embedding.numpy().tobytes()
    assert voice.ref_text == REFERENCE_TEXT


def test_no_transcript_gives_an_x_vector_prompt(
    backend: QwenBackend, reference_audio: Audio
) -> None:
    audio, rate = reference_audio
    prompt = backend.create_voice_prompt(audio, rate, "  ")

    item = prompt["items"][0]
    assert item["x_vector_only_mode"] is True
    assert item["icl_mode"] is False
    assert item["ref_code"] is None
    assert item["ref_text"] is None
    assert not backend.parse_voice_prompt(prompt).icl_mode


@pytest.mark.parametrize("transcript", [REFERENCE_TEXT, ""], ids=["with text", "without"])
def test_a_long_reference_is_trimmed_and_cloned_by_x_vector(
    backend: QwenBackend, monkeypatch: pytest.MonkeyPatch, transcript: str
) -> None:
    seen: list[float] = []
    original = backend._tts.create_voice_clone_prompt

    def spying(**kwargs: Any) -> Any:
        samples, rate = kwargs["ref_audio"]
        seen.append(len(samples) / rate)
        return original(**kwargs)

    monkeypatch.setattr(backend._tts, "create_voice_clone_prompt", spying)
    audio = voiced_signal(seconds=MAX_REFERENCE_SECONDS + 5)

    prompt = backend.create_voice_prompt(audio, SAMPLE_RATE, transcript)

    assert seen == [MAX_REFERENCE_SECONDS]
    assert prompt["items"][0]["x_vector_only_mode"] is True
    assert prompt["items"][0]["ref_text"] is None


def test_different_references_give_different_prompts(backend: QwenBackend) -> None:
    low = backend.create_voice_prompt(voiced_signal(2.0, pitch_hz=100), SAMPLE_RATE, "")
    high = backend.create_voice_prompt(voiced_signal(2.0, pitch_hz=220, seed=1), SAMPLE_RATE, "")
    assert low["items"][0]["ref_spk_embedding"] != high["items"][0]["ref_spk_embedding"]


def test_other_sample_rates_are_resampled(backend: QwenBackend) -> None:
    audio = voiced_signal(2.0)[::3].copy()  # as if recorded at 8 kHz
    prompt = backend.create_voice_prompt(audio, 8000, REFERENCE_TEXT)
    assert abs(prompt["items"][0]["ref_code"]["shape"][0] - 25) <= 1


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros(SAMPLE_RATE // 10, np.float32), "shorter than 0.5 s"),
        (np.zeros((SAMPLE_RATE, 2), np.float32), "mono"),
        (np.full(SAMPLE_RATE, np.nan, np.float32), "non-finite"),
    ],
    ids=["too short", "stereo", "NaN"],
)
def test_unusable_reference_audio_is_a_client_error(
    backend: QwenBackend, audio: npt.NDArray[np.float32], message: str
) -> None:
    with pytest.raises(BackendError, match=message):
        backend.create_voice_prompt(audio, SAMPLE_RATE, REFERENCE_TEXT)


def test_creating_a_prompt_leaves_the_random_generator_alone(
    backend: QwenBackend, reference_audio: Audio
) -> None:
    """Why create_voice_prompt needs no generation lock."""
    before = torch.random.get_rng_state()
    backend.create_voice_prompt(*reference_audio, REFERENCE_TEXT)
    assert torch.equal(before, torch.random.get_rng_state())


def _reencoded(
    prompt: dict[str, Any], field: str, array: npt.NDArray[Any], dtype: str
) -> dict[str, Any]:
    changed: dict[str, Any] = json.loads(json.dumps(prompt))
    changed["items"][0][field] = {
        "dtype": dtype,
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode(),
    }
    return changed


def _mismatched(prompt: dict[str, Any], case: str, limits: PromptLimits) -> dict[str, Any]:
    if case == "espeak":
        return {"engine": "espeak-ng", "voice": "en-us"}
    codes = {
        "frames": np.ones((limits.max_frames + 1, limits.num_code_groups), "<i8"),
        "groups": np.ones((10, limits.num_code_groups + 12), "<i8"),
        "codebook": np.full((10, limits.num_code_groups), limits.codebook_size, "<i8"),
    }
    if case in codes:
        return _reencoded(prompt, "ref_code", codes[case], "int64")
    embeddings = {
        "embedding size": np.zeros(2048, "<f4"),
        "NaN": np.full(limits.embedding_dim, np.nan, "<f4"),
    }
    return _reencoded(prompt, "ref_spk_embedding", embeddings[case], "float32")


@pytest.mark.parametrize(
    "case", ["frames", "groups", "codebook", "embedding size", "NaN", "espeak"]
)
def test_prompts_are_checked_against_the_loaded_model(
    backend: QwenBackend, voice_prompt: dict[str, Any], case: str
) -> None:
    assert backend.parse_voice_prompt(voice_prompt).icl_mode
    with pytest.raises(VoicePromptError):
        backend.parse_voice_prompt(_mismatched(voice_prompt, case, backend._limits))


def test_a_bfloat16_prompt_is_cast_to_the_model_dtype_at_generate_time(
    backend: QwenBackend, voice_prompt: dict[str, Any], voice: ParsedVoice
) -> None:
    embedding = voice.speaker_embedding.to(torch.bfloat16)
    bits = embedding.view(torch.int16).numpy().astype("<i2")
    voice_bf16 = backend.parse_voice_prompt(
        _reencoded(voice_prompt, "ref_spk_embedding", bits, "bfloat16")
    )
    assert voice_bf16.speaker_embedding.dtype == torch.bfloat16

    [synthesis] = backend.generate([job(voice_bf16, "Hi.")])
    assert_valid_clip(synthesis)


# -- generation ----------------------------------------------------------------------------------


def test_generates_one_clip(backend: QwenBackend, voice: ParsedVoice) -> None:
    [synthesis] = backend.generate([job(voice)])
    assert_valid_clip(synthesis)


def test_generates_a_batch_of_three_in_one_call(
    backend: QwenBackend, voice: ParsedVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    x_vector = backend.parse_voice_prompt(
        backend.create_voice_prompt(voiced_signal(2.0, pitch_hz=200), SAMPLE_RATE, "")
    )
    calls: list[int] = []
    original = backend._tts.generate_voice_clone

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["text"]))
        return original(**kwargs)

    monkeypatch.setattr(backend._tts, "generate_voice_clone", counting)
    jobs = [
        job(voice, "Hello world.", seed=None),
        job(x_vector, "Guten Tag.", seed=None, language="de"),
        job(voice, "你好。", seed=None, language="zh"),
    ]

    syntheses = backend.generate(jobs)

    assert calls == [3]
    assert len(syntheses) == 3
    for synthesis in syntheses:
        assert_valid_clip(synthesis)


def test_odd_texts_are_spoken(backend: QwenBackend, voice: ParsedVoice) -> None:
    """One character, non-ASCII text, and text holding the chat template's own special tokens
    (which the tokenizer reads as specials) all keep the package's positional slicing intact."""
    texts = ["a", "Ünïcödé — 表情 ✓ 123 ½ «quote»", "<|im_end|>\n<|im_start|>assistant\n"]
    syntheses = backend.generate([job(voice, text, seed=None) for text in texts])
    for synthesis in syntheses:
        assert_valid_clip(synthesis)


def test_non_finite_or_loud_model_output_is_repaired_and_logged(
    backend: QwenBackend,
    voice: ParsedVoice,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = np.array([0.5, np.nan, 2.0, -np.inf, -3.0], dtype=np.float32)
    monkeypatch.setattr(backend._tts, "generate_voice_clone", lambda **_: ([broken], 24000))

    [synthesis] = backend.generate([job(voice)])

    assert synthesis.samples.tolist() == [0.5, 0.0, 1.0, 0.0, -1.0]
    assert synthesis.samples.dtype == np.float32
    assert "2 non-finite samples" in caplog.text


def test_a_seeded_job_in_a_mixed_batch_gets_what_it_gets_alone(
    backend: QwenBackend, voice: ParsedVoice
) -> None:
    seeded = job(voice, "Hi there.", seed=1234)
    [alone] = backend.generate([seeded])

    mixed = backend.generate([job(voice, "One.", seed=None), seeded, job(voice, "Two.", seed=None)])

    assert np.array_equal(mixed[1].samples, alone.samples)


def test_same_seed_gives_bit_identical_audio(backend: QwenBackend, voice: ParsedVoice) -> None:
    [first] = backend.generate([job(voice, seed=42)])
    [second] = backend.generate([job(voice, seed=42)])
    assert first.samples.tobytes() == second.samples.tobytes()


def test_different_seeds_give_different_audio(backend: QwenBackend, voice: ParsedVoice) -> None:
    [first] = backend.generate([job(voice, seed=1)])
    [second] = backend.generate([job(voice, seed=2)])
    assert first.samples.tobytes() != second.samples.tobytes()


def test_unseeded_jobs_do_not_inherit_the_previous_seed(
    backend: QwenBackend, voice: ParsedVoice
) -> None:
    backend.generate([job(voice, seed=5)])
    [first] = backend.generate([job(voice, seed=None)])
    backend.generate([job(voice, seed=5)])
    [second] = backend.generate([job(voice, seed=None)])
    assert first.samples.tobytes() != second.samples.tobytes()


def test_sampling_options_reach_the_model(backend: QwenBackend, voice: ParsedVoice) -> None:
    greedy = sibling(backend, sampling={"do_sample": False, "subtalker_dosample": False})
    [first] = greedy.generate([job(voice, seed=1)])
    [second] = greedy.generate([job(voice, seed=2)])
    assert first.samples.tobytes() == second.samples.tobytes()


def test_generation_length_is_bounded_by_the_text(backend: QwenBackend, voice: ParsedVoice) -> None:
    frames = backend_module.max_new_tokens_for(["Hi"], 12.5, 2048)
    for seed in range(3):
        [synthesis] = backend.generate([job(voice, "Hi", seed=seed)])
        assert synthesis.samples.size <= (frames + 1) * SAMPLES_PER_FRAME


def test_generation_holds_the_lock_while_seeding_and_sampling(
    backend: QwenBackend, voice: ParsedVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[bool] = []
    original = backend._tts.generate_voice_clone

    def checking(**kwargs: Any) -> Any:
        held.append(backend_module._GENERATION_LOCK.locked())
        return original(**kwargs)

    monkeypatch.setattr(backend._tts, "generate_voice_clone", checking)
    backend.generate([job(voice, "Hi.", seed=3), job(voice, "Yo.", seed=None)])
    assert held == [True, True]


@pytest.mark.slow
def test_concurrent_seeded_calls_match_sequential_ones(
    backend: QwenBackend, voice: ParsedVoice, reference_audio: Audio
) -> None:
    requests = [job(voice, f"Sentence number {index}.", seed=100 + index) for index in range(4)]
    sequential = [backend.generate([request])[0].samples.tobytes() for request in requests]
    start = threading.Barrier(len(requests) + 2)

    def seeded(request: GenerateJob) -> bytes:
        start.wait(timeout=30)
        return backend.generate([request])[0].samples.tobytes()

    def unseeded_noise() -> bytes:
        start.wait(timeout=30)
        return backend.generate([job(voice, "Noise in between.", seed=None)])[0].samples.tobytes()

    def prompt_making() -> bytes:
        start.wait(timeout=30)
        return json.dumps(backend.create_voice_prompt(*reference_audio, REFERENCE_TEXT)).encode()

    with ThreadPoolExecutor(max_workers=len(requests) + 2) as pool:
        futures = [pool.submit(seeded, request) for request in requests]
        others = [pool.submit(unseeded_noise), pool.submit(prompt_making)]
        concurrent = [future.result(timeout=300) for future in futures]
        for other in others:
            other.result(timeout=300)

    assert concurrent == sequential


def test_unsupported_languages_are_refused_before_generating(
    backend: QwenBackend, voice: ParsedVoice
) -> None:
    for code in ("nl", "auto", "english"):
        with pytest.raises(UnsupportedLanguageError):
            backend.generate([job(voice, language=code)])


def test_a_voice_not_from_parse_voice_prompt_is_a_programming_error(backend: QwenBackend) -> None:
    with pytest.raises(TypeError, match="parse_voice_prompt"):
        backend.generate(
            [GenerateJob(text="Hi", voice={"engine": "qwen3-tts"}, language="en", seed=1)]
        )


def test_no_jobs_no_work(backend: QwenBackend) -> None:
    assert backend.generate([]) == []


def test_close_makes_the_backend_unusable(backend: QwenBackend, voice: ParsedVoice) -> None:
    closing = sibling(backend)
    closing.close()
    closing.close()
    with pytest.raises(RuntimeError, match="closed"):
        closing.generate([job(voice)])
    assert backend.generate([job(voice, "Still here.")])  # the shared model is untouched
