"""Which torch device and dtype a Qwen3-TTS model runs on, from a user's setting."""

from __future__ import annotations

import re
from typing import Final

import torch

__all__ = ["DeviceError", "resolve_device", "resolve_dtype"]

_DTYPES: Final = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_ACCELERATOR = re.compile(r"(cuda|rocm)(?::(\d+))?")


class DeviceError(ValueError):
    """The requested device or dtype is unknown or not available on this machine."""


def resolve_device(spec: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N``, ``rocm``, ``rocm:N`` or ``auto`` to a torch device string.

    ROCm builds of torch expose AMD GPUs through the ``cuda`` device type, so ``rocm:N`` is an
    alias of ``cuda:N`` that also checks the build is a ROCm one. ``auto`` picks the first GPU
    when there is one, else the CPU.
    """
    spec = spec.strip().lower()
    if spec == "cpu":
        return "cpu"
    if spec == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    match = _ACCELERATOR.fullmatch(spec)
    if match is None:
        raise DeviceError(f"unknown device {spec!r}; use cpu, cuda, cuda:N, rocm, rocm:N or auto")
    kind, index_text = match.groups()
    if kind == "rocm" and torch.version.hip is None:
        raise DeviceError("device rocm needs a ROCm build of torch; this one is not")
    if not torch.cuda.is_available():
        raise DeviceError(f"device {spec} requested, but torch sees no GPU on this machine")
    index, count = int(index_text or 0), torch.cuda.device_count()
    if index >= count:
        raise DeviceError(f"device {spec} requested, but torch sees {count} GPUs")
    return f"cuda:{index}"


def resolve_dtype(spec: str, device: str) -> torch.dtype:
    """``auto`` is bfloat16 on a GPU that supports it (what Qwen3-TTS ships in) and float32
    elsewhere; float16 is never chosen automatically (activations can overflow it)."""
    spec = spec.strip().lower()
    if spec == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if spec not in _DTYPES:
        raise DeviceError(f"unknown dtype {spec!r}; use auto, {', '.join(_DTYPES)}")
    return _DTYPES[spec]
