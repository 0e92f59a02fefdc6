"""Qwen3-TTS voice prompts as JSON: a versioned envelope, bit-exact tensors, strict parsing.

``create_voice_clone_prompt`` returns ``VoiceClonePromptItem`` dataclasses holding tensors, which
are not JSON (SPEC.md Appendix A.2). Format 1 of the envelope is::

    {"engine": "qwen3-tts", "format": 1, "model": "<the model's display name>",
     "items": [{"ref_code": TENSOR | null, "ref_spk_embedding": TENSOR,
                "x_vector_only_mode": bool, "icl_mode": bool, "ref_text": str | null}]}

    TENSOR = {"dtype": "float32" | "float16" | "bfloat16" | "int64", "shape": [...],
              "data": standard base64 of the raw little-endian element bytes, row-major}

numpy has no bfloat16, so bfloat16 elements travel as their 16 raw bits, reinterpreted (never
converted): every round trip is bit-exact, whatever the dtype.

A voice prompt comes back from a client, so parsing trusts nothing: the envelope is validated by
pydantic in strict mode, then each tensor against the loaded model (code groups, codebook range,
embedding size, frame count), and every float must be finite. Anything wrong raises
``VoicePromptError`` with a short message that never echoes the client's data.

``model`` is informational and not compared with the loaded model: a prompt stays valid when the
same weights are served from another path. What a model needs is checked structurally instead.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from reference_server.backends.base import VoicePromptError

__all__ = [
    "ENGINE",
    "FORMAT",
    "MAX_REF_TEXT_CHARS",
    "ParsedVoice",
    "PromptItemLike",
    "PromptLimits",
    "decode_tensor",
    "encode_tensor",
    "parse_voice_prompt",
    "serialize_voice_prompt",
]

ENGINE: Final = "qwen3-tts"
FORMAT: Final = 1
MAX_REF_TEXT_CHARS: Final = 4000
# A static ceiling on any one tensor's base64 text, checked before decoding; the exact size is
# then checked against the declared shape and the model's limits.
_MAX_DATA_CHARS: Final = 1 << 20
_MAX_RANK: Final = 4
_MAX_LOC_PART: Final = 40

TensorDtype = Literal["float32", "float16", "bfloat16", "int64"]
_FLOAT_DTYPES: Final = frozenset({"float32", "float16", "bfloat16"})
# name -> (torch dtype, the numpy dtype its bytes travel as)
_WIRE: Final[Mapping[str, tuple[torch.dtype, np.dtype[Any]]]] = {
    "float32": (torch.float32, np.dtype("<f4")),
    "float16": (torch.float16, np.dtype("<f2")),
    "bfloat16": (torch.bfloat16, np.dtype("<i2")),
    "int64": (torch.int64, np.dtype("<i8")),
}
_NAMES: Final = {torch_dtype: name for name, (torch_dtype, _) in _WIRE.items()}


class PromptItemLike(Protocol):
    """What ``qwen_tts.VoiceClonePromptItem`` carries (typed here: qwen_tts is untyped)."""

    ref_code: torch.Tensor | None
    ref_spk_embedding: torch.Tensor
    x_vector_only_mode: bool
    icl_mode: bool
    ref_text: str | None


@dataclass(frozen=True)
class PromptLimits:
    """What the loaded model accepts; prompts are checked against it."""

    embedding_dim: int
    num_code_groups: int
    codebook_size: int
    max_frames: int


@dataclass(frozen=True, eq=False)
class ParsedVoice:
    """A validated voice prompt, on CPU. Identity equality: it holds tensors.

    ``ref_code`` is None in x-vector-only mode; with codes, generation runs in ICL mode and
    ``ref_text`` is the reference transcript.
    """

    ref_code: torch.Tensor | None
    speaker_embedding: torch.Tensor
    ref_text: str | None

    @property
    def icl_mode(self) -> bool:
        return self.ref_code is not None


# -- tensors -------------------------------------------------------------------------------------


def encode_tensor(tensor: torch.Tensor) -> dict[str, Any]:
    """A tensor as ``{"dtype", "shape", "data"}``; bit-exact, bfloat16 included."""
    name = _NAMES.get(tensor.dtype)
    if name is None:
        raise ValueError(f"cannot encode a {tensor.dtype} tensor; supported: {sorted(_WIRE)}")
    wire = _WIRE[name][1]
    host = tensor.detach().to("cpu").contiguous()
    if name == "bfloat16":
        host = host.view(torch.int16)  # reinterpret the bits; numpy has no bfloat16
    raw = host.numpy().astype(wire, copy=False).tobytes()
    return {"dtype": name, "shape": list(tensor.shape), "data": base64.b64encode(raw).decode()}


def decode_tensor(dtype: str, shape: tuple[int, ...] | list[int], raw: bytes) -> torch.Tensor:
    """The inverse of ``encode_tensor`` for already base64-decoded bytes (of the right length)."""
    torch_dtype, wire = _WIRE[dtype]
    array = np.frombuffer(raw, dtype=wire).astype(wire.newbyteorder("="))  # owned, native order
    tensor = torch.from_numpy(array.reshape(tuple(shape)))
    return tensor.view(torch_dtype) if dtype == "bfloat16" else tensor


# -- the envelope, as pydantic models ------------------------------------------------------------


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TensorObject(_StrictModel):
    dtype: TensorDtype
    shape: list[int] = Field(max_length=_MAX_RANK)
    data: str = Field(max_length=_MAX_DATA_CHARS)
    _tensor: torch.Tensor = PrivateAttr()

    @model_validator(mode="after")
    def _decode(self) -> TensorObject:
        if any(size < 0 for size in self.shape):
            raise ValueError("shape has a negative size")
        try:
            raw = base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data is not valid standard base64") from None
        expected = math.prod(self.shape) * _WIRE[self.dtype][1].itemsize
        if len(raw) != expected:
            raise ValueError(f"data holds {len(raw)} bytes; shape and dtype need {expected}")
        self._tensor = decode_tensor(self.dtype, self.shape, raw)
        return self

    @property
    def tensor(self) -> torch.Tensor:
        return self._tensor


class PromptItemObject(_StrictModel):
    ref_code: TensorObject | None
    ref_spk_embedding: TensorObject
    x_vector_only_mode: bool
    icl_mode: bool
    ref_text: str | None = Field(max_length=MAX_REF_TEXT_CHARS)

    @model_validator(mode="after")
    def _consistent(self) -> PromptItemObject:
        if self.x_vector_only_mode == self.icl_mode:
            raise ValueError("exactly one of x_vector_only_mode and icl_mode must be true")
        if self.icl_mode and (self.ref_code is None or not (self.ref_text or "").strip()):
            raise ValueError("icl_mode needs ref_code and a non-empty ref_text")
        if self.x_vector_only_mode and self.ref_code is not None:
            raise ValueError("x_vector_only_mode carries no ref_code")
        if self.ref_code is not None and self.ref_code.dtype != "int64":
            raise ValueError("ref_code must be int64")
        if self.ref_spk_embedding.dtype not in _FLOAT_DTYPES:
            raise ValueError("ref_spk_embedding must be float32, float16 or bfloat16")
        return self


class _Envelope(_StrictModel):
    engine: Literal["qwen3-tts"]
    format: Literal[1]
    model: str = Field(max_length=256)
    items: list[PromptItemObject] = Field(min_length=1, max_length=1)


# -- public functions ----------------------------------------------------------------------------


def serialize_voice_prompt(item: PromptItemLike, model_name: str) -> dict[str, Any]:
    """One prompt item as the JSON envelope."""
    ref_code = None if item.ref_code is None else encode_tensor(item.ref_code)
    return {
        "engine": ENGINE,
        "format": FORMAT,
        "model": model_name,
        "items": [
            {
                "ref_code": ref_code,
                "ref_spk_embedding": encode_tensor(item.ref_spk_embedding),
                "x_vector_only_mode": bool(item.x_vector_only_mode),
                "icl_mode": bool(item.icl_mode),
                "ref_text": item.ref_text,
            }
        ],
    }


def parse_voice_prompt(prompt: object, limits: PromptLimits) -> ParsedVoice:
    """Validate a client's voice prompt against the envelope and the model; VoicePromptError."""
    _check_origin(prompt)
    try:
        envelope = _Envelope.model_validate(prompt)
    except ValidationError as exc:
        raise VoicePromptError(_describe(exc)) from None
    item = envelope.items[0]
    ref_code = None if item.ref_code is None else _checked_codes(item.ref_code.tensor, limits)
    embedding = _checked_embedding(item.ref_spk_embedding.tensor, limits)
    return ParsedVoice(
        ref_code=ref_code,
        speaker_embedding=embedding,
        ref_text=item.ref_text if item.icl_mode else None,
    )


def _check_origin(prompt: object) -> None:
    """Clear messages for the commonest mistake: a prompt from another provider or format."""
    if not isinstance(prompt, dict):
        raise VoicePromptError("voice prompt must be a JSON object")
    if prompt.get("engine") != ENGINE:
        raise VoicePromptError(
            "voice prompt was not made by this provider's Qwen3-TTS backend; "
            "create one with /v1/create_voice_prompt"
        )
    version = prompt.get("format")
    if version != FORMAT or isinstance(version, bool):
        shown = f" {version}" if isinstance(version, int) and not isinstance(version, bool) else ""
        raise VoicePromptError(f"voice prompt format{shown} is not supported; expected {FORMAT}")


def _checked_codes(codes: torch.Tensor, limits: PromptLimits) -> torch.Tensor:
    where = "voice prompt items.0.ref_code"
    if codes.dim() != 2 or codes.shape[1] != limits.num_code_groups:
        raise VoicePromptError(f"{where} must have shape (frames, {limits.num_code_groups})")
    if not 1 <= codes.shape[0] <= limits.max_frames:
        raise VoicePromptError(f"{where} must have 1 to {limits.max_frames} frames")
    if bool((codes < 0).any()) or bool((codes >= limits.codebook_size).any()):
        raise VoicePromptError(f"{where} has codes outside 0..{limits.codebook_size - 1}")
    return codes


def _checked_embedding(embedding: torch.Tensor, limits: PromptLimits) -> torch.Tensor:
    where = "voice prompt items.0.ref_spk_embedding"
    if tuple(embedding.shape) != (limits.embedding_dim,):
        raise VoicePromptError(f"{where} must have shape ({limits.embedding_dim},)")
    if not bool(torch.isfinite(embedding.float()).all()):
        raise VoicePromptError(f"{where} has non-finite values")
    return embedding


def _describe(error: ValidationError) -> str:
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    first = problems[0]
    where = ".".join(str(part)[:_MAX_LOC_PART] for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return f"voice prompt is invalid at {where}: {message}{more}"
