"""Judging responses under load: status, body schema, audio size and, for a sample, the audio.

Every response is classified cheaply (status, JSON shape, audio seconds from the base64 length).
A sampled fraction is decoded in full with ``voicebox_api._codec`` and checked against the audio
invariants, so that a provider cannot win a benchmark by answering garbage under load: a
response that fails counts as a failed request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from pydantic import ValidationError

from benchmarks.results import Operation
from voicebox_api import (
    ALLOWED_DTYPES,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    READY_STATUSES,
    SPEECH_PCM_SAMPLE_RATE,
    AudioCodecError,
    GenerateResponse,
    HealthResponse,
    TranscribeResponse,
    VoicePromptResponse,
    decode_response,
)

__all__ = [
    "SILENCE_DBFS",
    "Outcome",
    "audio_seconds",
    "check_audio_samples",
    "header",
    "interpret",
    "parse_server_timing",
]

SILENCE_DBFS: Final = -40.0
"""AUD-7: the loudest 50 ms window must reach this RMS level."""
_WINDOW_S: Final = 0.05
_ITEMSIZE: Final = {"int16": 2, "int32": 4, "float32": 4, "float64": 8}
_DETAIL_LIMIT: Final = 200


@dataclass(frozen=True)
class Outcome:
    """What a response means for the benchmark."""

    ok: bool
    error_class: str | None = None
    error_detail: str | None = None
    audio_s: float | None = None
    checked: bool = False
    voice_prompt: dict[str, Any] | None = None


def interpret(
    operation: Operation, status: int, body: bytes, *, check: bool, dialect: str = "voicebox"
) -> Outcome:
    """Classify one response; ``check`` decodes and judges generated audio in full."""
    if operation == "generate" and dialect == "openai-speech":
        return _speech_pcm(status, body, check)
    return _voicebox(operation, status, body, check)


def _voicebox(operation: Operation, status: int, body: bytes, check: bool) -> Outcome:
    if status != 200:
        return Outcome(False, f"http_{status}", _snippet(body), checked=check)
    if operation == "null":
        return Outcome(True)
    try:
        document = json.loads(body)
    except ValueError:
        return Outcome(False, "invalid_body", "the body is not JSON", checked=check)
    if operation == "generate":
        return _generate(document, check)
    try:
        return _metadata(operation, document, check)
    except ValidationError as exc:
        return Outcome(False, "invalid_body", _validation_detail(exc), checked=check)


def _metadata(operation: Operation, document: Any, check: bool) -> Outcome:
    if operation == "create_voice_prompt":
        prompt = VoicePromptResponse.model_validate(document).voice_prompt
        return Outcome(True, voice_prompt=prompt, checked=check)
    if operation == "transcribe":
        TranscribeResponse.model_validate(document)
    elif operation == "health":
        health = HealthResponse.model_validate(document)
        if health.status not in READY_STATUSES:
            return Outcome(False, "not_ready", health.status, checked=check)
    return Outcome(True, checked=check)


def _generate(document: Any, check: bool) -> Outcome:
    if not check:
        return _generate_cheap(document)
    try:
        response = GenerateResponse.model_validate(document)
    except ValidationError as exc:
        return Outcome(False, _schema_class(exc), _validation_detail(exc), checked=True)
    try:
        decoded = decode_response(response)
    except AudioCodecError as exc:
        return Outcome(False, f"invalid_audio.{exc.clause}", str(exc)[:_DETAIL_LIMIT], checked=True)
    problem = check_audio_samples(decoded.as_float32(), decoded.sample_rate)
    if problem is not None:
        clause, detail = problem
        return Outcome(False, f"invalid_audio.{clause}", detail, decoded.duration_s, True)
    return Outcome(True, audio_s=decoded.duration_s, checked=True)


def _speech_pcm(status: int, body: bytes, check: bool) -> Outcome:
    """``/v1/audio/speech`` with ``response_format=pcm``: s16le mono 24 kHz (SPEECH-5)."""
    if status != 200:
        return Outcome(False, f"http_{status}", _snippet(body), checked=check)
    if not body or len(body) % 2:
        return Outcome(
            False, "invalid_audio.SPEECH-5", f"{len(body)} bytes of s16le", checked=check
        )
    seconds = len(body) / 2 / SPEECH_PCM_SAMPLE_RATE
    if not check:
        return Outcome(True, audio_s=seconds)
    samples = np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0
    problem = check_audio_samples(samples, SPEECH_PCM_SAMPLE_RATE)
    if problem is not None:
        clause, detail = problem
        return Outcome(False, f"invalid_audio.{clause}", detail, seconds, True)
    return Outcome(True, audio_s=seconds, checked=True)


def _generate_cheap(document: Any) -> Outcome:
    """Shape and size only: what every response gets, at the cost of a JSON parse."""
    if not isinstance(document, dict):
        return Outcome(False, "invalid_body", "the body is not a JSON object")
    audio, rate, dtype = document.get("audio"), document.get("sample_rate"), document.get("dtype")
    if not isinstance(audio, str) or type(rate) is not int or dtype not in ALLOWED_DTYPES:
        return Outcome(False, "invalid_body", "audio, sample_rate or dtype is missing or mistyped")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        return Outcome(False, "invalid_audio.AUD-5", f"sample_rate {rate} is out of range")
    seconds = audio_seconds(audio, rate, dtype)
    if not seconds:
        return Outcome(False, "invalid_audio.AUD-3", "the audio is empty")
    return Outcome(True, audio_s=seconds)


def audio_seconds(audio: str, sample_rate: int, dtype: str) -> float:
    """Duration of a base64 payload from its length alone (no decoding)."""
    padding = len(audio) - len(audio.rstrip("="))
    raw_bytes = len(audio) // 4 * 3 - padding
    return raw_bytes // _ITEMSIZE[dtype] / sample_rate


def check_audio_samples(samples: np.ndarray[Any, Any], sample_rate: int) -> tuple[str, str] | None:
    """The invariants the codec does not check: not silent (AUD-7). ``None`` when fine.

    The loudest window is searched at 25 ms hops rather than per sample: a load-time sample
    check, not the conformance suite's exact judgement.
    """
    window = max(2, int(sample_rate * _WINDOW_S))
    power = np.square(samples, dtype=np.float32)
    if power.size <= window:
        loudest = float(np.mean(power, dtype=np.float64))
    else:  # 50 ms blocks at 25 ms hops: cheap enough to run under load
        loudest = max(_block_max(power, window), _block_max(power[window // 2 :], window))
    level = 10 * math.log10(loudest) if loudest > 0 else -math.inf
    if level < SILENCE_DBFS:
        return "AUD-7", f"silent: the loudest 50 ms window is {level:.1f} dBFS"
    return None


def _block_max(power: np.ndarray[Any, Any], window: int) -> float:
    usable = power.size // window * window
    if usable == 0:
        return 0.0
    return float(power[:usable].reshape(-1, window).mean(axis=1, dtype=np.float64).max())


def parse_server_timing(header: str | None) -> dict[str, float]:
    """``queue;dur=1.5, inference;dur=120`` -> ``{"queue": 1.5, "inference": 120.0}``."""
    timings: dict[str, float] = {}
    for metric in (header or "").split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if name and key.lower() == "dur":
                try:
                    timings[name] = float(value.strip('"'))
                except ValueError:
                    continue
    return timings


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup for plain mappings."""
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _schema_class(exc: ValidationError) -> str:
    fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    if "sample_rate" in fields:
        return "invalid_audio.AUD-5"
    if "dtype" in fields:
        return "invalid_audio.AUD-2"
    return "invalid_body"


def _validation_detail(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"[:_DETAIL_LIMIT]


def _snippet(body: bytes) -> str:
    return body[:_DETAIL_LIMIT].decode("utf-8", "replace")
