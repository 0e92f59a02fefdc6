"""Voice prompt JSON: bit-exact tensors, and strict refusal of anything this backend did not make.

These tests need no model: the limits a loaded model would impose are given directly.
"""

from __future__ import annotations

import base64
import copy
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_server.backends.base import VoicePromptError
from reference_server.backends.qwen.prompt import (
    ENGINE,
    FORMAT,
    PromptLimits,
    decode_tensor,
    encode_tensor,
    parse_voice_prompt,
    serialize_voice_prompt,
)

LIMITS = PromptLimits(embedding_dim=8, num_code_groups=4, codebook_size=64, max_frames=20)


@dataclass
class Item:
    """Stands in for qwen_tts.VoiceClonePromptItem (same fields)."""

    ref_code: torch.Tensor | None
    ref_spk_embedding: torch.Tensor
    x_vector_only_mode: bool
    icl_mode: bool
    ref_text: str | None


def icl_item(dtype: torch.dtype = torch.float32, frames: int = 5) -> Item:
    generator = torch.Generator().manual_seed(frames)
    return Item(
        ref_code=torch.randint(0, 64, (frames, 4), generator=generator),
        ref_spk_embedding=torch.randn(8, generator=generator).to(dtype),
        x_vector_only_mode=False,
        icl_mode=True,
        ref_text="Hello there.",
    )


def xvector_item(dtype: torch.dtype = torch.float32) -> Item:
    return Item(
        ref_code=None,
        ref_spk_embedding=torch.linspace(-1, 1, 8).to(dtype),
        x_vector_only_mode=True,
        icl_mode=False,
        ref_text=None,
    )


def json_round_trip(prompt: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(json.dumps(prompt))
    return decoded


def bits(tensor: torch.Tensor) -> bytes:
    """The raw bytes, so that NaN payloads and -0.0 compare exactly."""
    host = tensor.contiguous()
    if host.dtype == torch.bfloat16:
        host = host.view(torch.int16)
    return bytes(host.numpy().tobytes())


# -- the tensor codec ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int64])
def test_tensor_round_trip_is_bit_exact(dtype: torch.dtype) -> None:
    raw = torch.randint(-(2**15), 2**15, (3, 5), dtype=torch.int64)
    tensor = raw.to(dtype) if dtype == torch.int64 else _random_bits(raw.shape, dtype)
    payload = json_round_trip(encode_tensor(tensor))

    back = decode_tensor(payload["dtype"], payload["shape"], base64.b64decode(payload["data"]))

    assert back.dtype == dtype
    assert back.shape == tensor.shape
    assert bits(back) == bits(tensor)


def test_bfloat16_is_reinterpreted_not_converted() -> None:
    tensor = torch.tensor([1.0, -0.0, 3.140625, float("inf")], dtype=torch.bfloat16)
    payload = encode_tensor(tensor)

    assert payload["dtype"] == "bfloat16"
    raw = base64.b64decode(payload["data"])
    assert len(raw) == 2 * 4
    assert np.frombuffer(raw, "<u2").tolist() == [0x3F80, 0x8000, 0x4049, 0x7F80]


def test_wire_bytes_are_little_endian() -> None:
    payload = encode_tensor(torch.tensor([1], dtype=torch.int64))
    assert base64.b64decode(payload["data"]) == b"\x01" + b"\x00" * 7


def test_unsupported_dtype_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot encode"):
        encode_tensor(torch.zeros(2, dtype=torch.complex64))


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16, torch.int64]),
    shape=st.lists(st.integers(0, 4), max_size=3),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_tensor_round_trips_bit_exactly(
    dtype: torch.dtype, shape: list[int], seed: int
) -> None:
    generator = torch.Generator().manual_seed(seed)
    if dtype == torch.int64:
        tensor = torch.randint(-(2**62), 2**62, shape, dtype=torch.int64, generator=generator)
    else:
        tensor = _random_bits(torch.Size(shape), dtype, generator)
    payload = json_round_trip(encode_tensor(tensor))

    back = decode_tensor(payload["dtype"], payload["shape"], base64.b64decode(payload["data"]))

    assert back.shape == tensor.shape
    assert bits(back) == bits(tensor)


def _random_bits(
    shape: torch.Size, dtype: torch.dtype, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Floats with arbitrary bit patterns: NaN payloads, infinities, subnormals, -0.0."""
    width = torch.finfo(dtype).bits
    integer = {16: torch.int16, 32: torch.int32}[width]
    info = torch.iinfo(integer)
    raw = torch.randint(info.min, info.max, shape, dtype=torch.int64, generator=generator)
    return raw.to(integer).view(dtype)


# -- whole prompts -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_icl_prompt_round_trips_bit_exactly(dtype: torch.dtype) -> None:
    item = icl_item(dtype)
    prompt = json_round_trip(serialize_voice_prompt(item, "tiny"))

    voice = parse_voice_prompt(prompt, LIMITS)

    assert voice.icl_mode
    assert voice.ref_code is not None
    assert item.ref_code is not None
    assert voice.ref_code.dtype == torch.int64
    assert torch.equal(voice.ref_code, item.ref_code)
    assert voice.speaker_embedding.dtype == dtype
    assert bits(voice.speaker_embedding) == bits(item.ref_spk_embedding)
    assert voice.ref_text == "Hello there."


def test_x_vector_prompt_round_trips_with_no_ref_code() -> None:
    item = xvector_item()
    prompt = json_round_trip(serialize_voice_prompt(item, "tiny"))

    voice = parse_voice_prompt(prompt, LIMITS)

    assert prompt["items"][0]["ref_code"] is None
    assert voice.ref_code is None
    assert not voice.icl_mode
    assert bits(voice.speaker_embedding) == bits(item.ref_spk_embedding)


def test_envelope_is_versioned_and_small() -> None:
    prompt = serialize_voice_prompt(icl_item(frames=20), "Qwen3-TTS-12Hz-1.7B-Base")

    assert prompt["engine"] == ENGINE == "qwen3-tts"
    assert prompt["format"] == FORMAT == 1
    assert prompt["model"] == "Qwen3-TTS-12Hz-1.7B-Base"
    assert set(prompt["items"][0]) == {
        "ref_code",
        "ref_spk_embedding",
        "x_vector_only_mode",
        "icl_mode",
        "ref_text",
    }
    assert len(json.dumps(prompt)) < 1 << 20


def test_serialising_a_gpu_like_tensor_moves_it_to_cpu_first() -> None:
    item = icl_item(torch.bfloat16)
    item.ref_spk_embedding = item.ref_spk_embedding.expand(2, 8)[0]  # a non-contiguous view
    prompt = serialize_voice_prompt(item, "tiny")
    assert parse_voice_prompt(prompt, LIMITS).speaker_embedding.is_contiguous()


# -- refusals ------------------------------------------------------------------------------------


def _good() -> dict[str, Any]:
    return json_round_trip(serialize_voice_prompt(icl_item(), "tiny"))


def _with(path: str, value: Any) -> dict[str, Any]:
    prompt = _good()
    *parents, last = path.split(".")
    node: Any = prompt
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return prompt


_DELETE = object()
_EMBEDDING = "items.0.ref_spk_embedding"
_CODES = "items.0.ref_code"


def _tensor(dtype: str, shape: list[int], data: bytes) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data": base64.b64encode(data).decode()}


def _floats(values: list[float]) -> dict[str, Any]:
    return _tensor("float32", [len(values)], np.asarray(values, "<f4").tobytes())


def _codes(frames: int, groups: int = 4, value: int = 1) -> dict[str, Any]:
    array = np.full((frames, groups), value, "<i8")
    return _tensor("int64", [frames, groups], array.tobytes())


GARBAGE: dict[str, object] = {
    "not an object": ["qwen3-tts"],
    "empty object": {},
    "another engine": {"engine": "espeak", "format": 1, "voice": "en"},
    "no engine": _with("engine", _DELETE),
    "unknown format": _with("format", 2),
    "format as text": _with("format", "1"),
    "format as bool": _with("format", True),
    "no items": _with("items", []),
    "two items": _with("items", _good()["items"] * 2),
    "items not a list": _with("items", {"0": 1}),
    "extra member": _with("items.0.speaker", "alice"),
    "missing embedding": _with("items.0.ref_spk_embedding", _DELETE),
    "embedding as list": _with(_EMBEDDING, [0.1] * 8),
    "embedding wrong size": _with(_EMBEDDING, _floats([0.1] * 7)),
    "embedding wrong rank": _with(
        _EMBEDDING, _tensor("float32", [1, 8], np.zeros(8, "<f4").tobytes())
    ),
    "embedding NaN": _with(_EMBEDDING, _floats([0.1] * 7 + [float("nan")])),
    "embedding infinite": _with(_EMBEDDING, _floats([float("inf")] + [0.1] * 7)),
    "embedding as int64": _with(_EMBEDDING, _tensor("int64", [8], bytes(64))),
    "unknown dtype": _with(_EMBEDDING, _tensor("float64", [8], bytes(64))),
    "dtype as torch name": _with(_EMBEDDING, _tensor("torch.float32", [8], bytes(32))),
    "truncated base64": _with(_EMBEDDING + ".data", _floats([0.1] * 8)["data"][:-6]),
    "base64 with junk": _with(_EMBEDDING + ".data", "!!" + _floats([0.1] * 8)["data"]),
    "data too short": _with(_EMBEDDING, _tensor("float32", [8], bytes(28))),
    "data too long": _with(_EMBEDDING, _tensor("float32", [8], bytes(36))),
    "negative size": _with(_EMBEDDING, _tensor("float32", [-8], b"")),
    "shape as text": _with(_EMBEDDING + ".shape", "8"),
    "shape of floats": _with(_EMBEDDING + ".shape", [8.0]),
    "huge rank": _with(_EMBEDDING + ".shape", [1] * 9),
    "codes wrong groups": _with(_CODES, _codes(5, groups=3)),
    "codes as float": _with(_CODES, _tensor("float32", [5, 4], bytes(80))),
    "codes out of range": _with(_CODES, _codes(5, value=64)),
    "negative codes": _with(_CODES, _codes(5, value=-1)),
    "no frames": _with(_CODES, _codes(0)),
    "huge T": _with(_CODES, _codes(LIMITS.max_frames + 1)),
    "huge T claimed, little data": _with(_CODES, _tensor("int64", [10**12, 4], bytes(32))),
    "giant data": _with(_CODES + ".data", "A" * (1 << 21)),
    "ICL without codes": _with(_CODES, None),
    "ICL without text": _with("items.0.ref_text", None),
    "ICL with blank text": _with("items.0.ref_text", "   "),
    "both modes": _with("items.0.x_vector_only_mode", True),
    "neither mode": _with("items.0.icl_mode", False),
    "mode as int": _with("items.0.icl_mode", 1),
    "giant ref_text": _with("items.0.ref_text", "a" * 5000),
    "model not a string": _with("model", 7),
}


@pytest.mark.parametrize("prompt", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_is_refused_with_a_voice_prompt_error(prompt: object) -> None:
    with pytest.raises(VoicePromptError) as caught:
        parse_voice_prompt(copy.deepcopy(prompt), LIMITS)

    message = str(caught.value)
    assert message.startswith("voice prompt")
    assert len(message) < 300
    assert "Traceback" not in message
    assert "/" not in message.replace("/v1/create_voice_prompt", "")


def test_x_vector_prompt_with_codes_is_refused() -> None:
    prompt = _with("items.0.x_vector_only_mode", True)
    prompt["items"][0]["icl_mode"] = False
    with pytest.raises(VoicePromptError, match="x_vector_only_mode carries no ref_code"):
        parse_voice_prompt(prompt, LIMITS)


def test_messages_name_the_problem() -> None:
    cases = {
        "another engine": "not made by this provider",
        "unknown format": "format 2 is not supported",
        "embedding wrong size": r"shape \(8,\)",
        "embedding NaN": "non-finite",
        "truncated base64": "base64",
        "data too short": "28 bytes; shape and dtype need 32",
        "codes out of range": r"outside 0\.\.63",
        "huge T": "1 to 20 frames",
        "unknown dtype": "items.0.ref_spk_embedding.dtype",
    }
    for case, pattern in cases.items():
        with pytest.raises(VoicePromptError, match=pattern):
            parse_voice_prompt(copy.deepcopy(GARBAGE[case]), LIMITS)


def test_the_limits_scale_with_the_model() -> None:
    big = PromptLimits(embedding_dim=8, num_code_groups=4, codebook_size=64, max_frames=400)
    prompt = json_round_trip(serialize_voice_prompt(icl_item(frames=300), "tiny"))

    assert parse_voice_prompt(prompt, big).ref_code is not None
    with pytest.raises(VoicePromptError):
        parse_voice_prompt(prompt, LIMITS)


def test_the_declared_size_is_checked_before_anything_big_is_allocated() -> None:
    frames = 10**12
    prompt = GARBAGE["huge T claimed, little data"]
    assert isinstance(prompt, dict)
    assert math.prod(prompt["items"][0]["ref_code"]["shape"]) == frames * 4
    with pytest.raises(VoicePromptError, match=r"need 32000000000000$"):
        parse_voice_prompt(copy.deepcopy(prompt), LIMITS)


# -- fuzzing: nothing but VoicePromptError escapes -----------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(prompt=_JSON)
def test_arbitrary_json_is_parsed_or_refused_cleanly(prompt: object) -> None:
    with pytest.raises(VoicePromptError):
        parse_voice_prompt(prompt, LIMITS)


def _leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [prefix] + [p for k, v in node.items() for p in _leaf_paths(v, (*prefix, k))]
    if isinstance(node, list):
        return [prefix] + [p for i, v in enumerate(node) for p in _leaf_paths(v, (*prefix, i))]
    return [prefix]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), replacement=_JSON)
def test_any_mutation_of_a_valid_prompt_is_parsed_or_refused_cleanly(
    data: st.DataObject, replacement: object
) -> None:
    prompt = _good()
    paths = [path for path in _leaf_paths(prompt) if path]
    path = data.draw(st.sampled_from(paths))
    node: Any = prompt
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = replacement

    try:
        voice = parse_voice_prompt(prompt, LIMITS)
    except VoicePromptError:
        return
    assert torch.isfinite(voice.speaker_embedding.float()).all()
    assert voice.speaker_embedding.shape == (LIMITS.embedding_dim,)
