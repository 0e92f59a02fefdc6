"""The backend's pure rules: languages, devices, batching, and the length bound."""

from __future__ import annotations

import math

import pytest
import torch

from reference_server.backends.base import GenerateJob, UnsupportedLanguageError
from reference_server.backends.qwen import (
    DeviceError,
    UnsupportedModelError,
    batch_key,
    max_new_tokens_for,
    plan_batches,
)
from reference_server.backends.qwen.backend import check_model_config
from reference_server.backends.qwen.devices import resolve_device, resolve_dtype
from reference_server.backends.qwen.languages import (
    ISO_TO_QWEN,
    declared_languages,
    qwen_language_name,
)

QWEN_NAMES = [
    "auto",
    "chinese",
    "english",
    "french",
    "german",
    "italian",
    "japanese",
    "korean",
    "portuguese",
    "russian",
    "spanish",
]

# -- languages -----------------------------------------------------------------------------------


def test_all_ten_qwen_languages_map_to_iso_codes() -> None:
    assert declared_languages(QWEN_NAMES) == (
        "en",
        "zh",
        "ja",
        "ko",
        "de",
        "fr",
        "ru",
        "pt",
        "es",
        "it",
    )
    assert "auto" not in declared_languages(QWEN_NAMES)


def test_declared_languages_follow_the_model() -> None:
    assert declared_languages(["English", "chinese", "beijing_dialect"]) == ("en", "zh")
    assert declared_languages(None) == tuple(ISO_TO_QWEN)


def test_codes_map_to_qwen_names() -> None:
    declared = declared_languages(QWEN_NAMES)
    assert qwen_language_name("en", declared) == "english"
    assert qwen_language_name("zh", declared) == "chinese"
    assert qwen_language_name("pt", declared) == "portuguese"


@pytest.mark.parametrize("code", ["xx", "EN", "english", "auto", "", "nl", "x" * 1000])
def test_other_codes_are_unsupported(code: str) -> None:
    declared = declared_languages(QWEN_NAMES)
    with pytest.raises(
        UnsupportedLanguageError, match="not supported; supported: en, zh"
    ) as caught:
        qwen_language_name(code, declared)
    assert len(str(caught.value)) < 200


def test_a_mapped_language_the_model_lacks_is_unsupported() -> None:
    with pytest.raises(UnsupportedLanguageError):
        qwen_language_name("ja", declared_languages(["english"]))


# -- devices -------------------------------------------------------------------------------------


def test_cpu_and_auto_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(" CPU ") == "cpu"
    assert resolve_device("auto") == "cpu"
    assert resolve_dtype("auto", "cpu") == torch.float32


def test_gpu_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_device("auto") == "cuda:0"
    assert resolve_device("cuda") == "cuda:0"
    assert resolve_device("cuda:1") == "cuda:1"
    assert resolve_dtype("auto", "cuda:1") == torch.bfloat16
    with pytest.raises(DeviceError, match="sees 2 GPUs"):
        resolve_device("cuda:2")


def test_rocm_is_cuda_on_a_rocm_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.version, "hip", "6.4.0")
    assert resolve_device("rocm") == "cuda:0"
    monkeypatch.setattr(torch.version, "hip", None)
    with pytest.raises(DeviceError, match="ROCm build"):
        resolve_device("rocm:0")


def test_gpu_without_bf16_falls_back_to_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_dtype("auto", "cuda:0") == torch.float32
    assert resolve_dtype("float16", "cuda:0") == torch.float16


def test_bad_devices_and_dtypes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="no GPU"):
        resolve_device("cuda")
    for spec in ("tpu", "cuda:x", "gpu", ""):
        with pytest.raises(DeviceError, match="unknown device"):
            resolve_device(spec)
    with pytest.raises(DeviceError, match="unknown dtype"):
        resolve_dtype("int8", "cpu")


# -- models --------------------------------------------------------------------------------------


def test_only_12hz_base_models_are_accepted() -> None:
    check_model_config({"tts_model_type": "base", "tokenizer_type": "qwen3_tts_tokenizer_12hz"})
    with pytest.raises(UnsupportedModelError, match=r"needs a Qwen3-TTS Base model.*custom_voice"):
        check_model_config(
            {"tts_model_type": "custom_voice", "tokenizer_type": "qwen3_tts_tokenizer_12hz"}
        )
    with pytest.raises(UnsupportedModelError, match="voice_design"):
        check_model_config({"tts_model_type": "voice_design"})
    with pytest.raises(UnsupportedModelError, match=r"12 Hz.*25hz"):
        check_model_config({"tts_model_type": "base", "tokenizer_type": "qwen3_tts_tokenizer_25hz"})


# -- batching ------------------------------------------------------------------------------------


def _job(seed: int | None, text: str = "hi") -> GenerateJob:
    return GenerateJob(text=text, voice=object(), language="en", seed=seed)


def test_seeded_jobs_never_share_a_batch() -> None:
    assert batch_key(_job(7)) is None
    assert batch_key(_job(0)) is None
    assert batch_key(_job(None)) == batch_key(_job(None, "other"))
    assert batch_key(_job(None)) is not None


def test_plan_runs_seeded_jobs_alone_and_chunks_the_rest() -> None:
    jobs = [_job(None), _job(1), _job(None), _job(None), _job(1), _job(None), _job(None)]

    plan = plan_batches(jobs, max_batch_size=2)

    assert sorted(index for batch in plan for index in batch) == list(range(len(jobs)))
    assert [1] in plan
    assert [4] in plan
    shared = [batch for batch in plan if batch not in ([1], [4])]
    assert shared == [[0, 2], [3, 5], [6]]


def test_plan_of_unseeded_jobs_is_one_batch_up_to_the_limit() -> None:
    assert plan_batches([_job(None)] * 3, max_batch_size=8) == [[0, 1, 2]]
    assert plan_batches([], max_batch_size=8) == []


# -- length bound --------------------------------------------------------------------------------


def test_max_new_tokens_is_two_seconds_plus_a_quarter_second_per_character() -> None:
    assert max_new_tokens_for(["Hi"], frame_rate=12.5, ceiling=2048) == math.ceil(12.5 * 2.5)
    assert max_new_tokens_for(["x" * 100], frame_rate=12.5, ceiling=2048) == math.ceil(12.5 * 27)


def test_max_new_tokens_follows_the_longest_text_and_the_ceiling() -> None:
    assert max_new_tokens_for(["Hi", "x" * 40], 12.5, 2048) == max_new_tokens_for(
        ["x" * 40], 12.5, 2048
    )
    assert max_new_tokens_for(["x" * 5000], 12.5, 2048) == 2048


def test_characters_are_code_points() -> None:
    assert max_new_tokens_for(["你好"], 12.5, 2048) == max_new_tokens_for(["Hi"], 12.5, 2048)
