"""What the client's endpoint methods return, and what its observer sees of each exchange."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from voicebox_api._codec import DecodedAudio
from voicebox_api._models import (
    READY_STATUSES,
    GenerateResponse,
    HealthResponse,
    OpenAIResponseFormat,
    OpenAITranscription,
    OpenAIVerboseTranscription,
    TranscribeResponse,
    VoicePromptResponse,
)

__all__ = [
    "Exchange",
    "GenerateResult",
    "HealthResult",
    "TranscribeResult",
    "TranscriptionResult",
    "VoicePromptResult",
]


@dataclass(frozen=True)
class Exchange:
    """One attempt of one request: what an ``on_exchange`` observer receives.

    Exactly one of ``response`` and ``error`` is set. ``elapsed_s`` runs from sending the
    request to having read the whole response body (or to the error). ``attempt`` counts from 1
    within one call, so retries of the same call share ``endpoint`` and increase ``attempt``.
    """

    endpoint: str
    """``health``, ``create_voice_prompt``, ``generate``, ``transcribe``, ``transcriptions``,
    or ``request`` for the low-level method."""
    attempt: int
    request: httpx.Request
    response: httpx.Response | None
    error: httpx.RequestError | None
    elapsed_s: float


@dataclass(frozen=True)
class HealthResult:
    """``GET /health``: a 200 answer, or a 503 whose body says ``loading`` or ``unhealthy``."""

    body: HealthResponse
    response: httpx.Response

    @property
    def ready(self) -> bool:
        return self.body.status in READY_STATUSES


@dataclass(frozen=True)
class VoicePromptResult:
    voice_prompt: dict[str, Any]
    body: VoicePromptResponse
    response: httpx.Response

    def __repr__(self) -> str:
        return f"VoicePromptResult(<voice prompt of {len(self.response.content):,} bytes>)"


@dataclass(frozen=True)
class GenerateResult:
    audio: DecodedAudio
    body: GenerateResponse
    response: httpx.Response

    def __repr__(self) -> str:
        audio = self.audio
        return (
            f"GenerateResult(<{audio.num_samples} {audio.dtype} samples at "
            f"{audio.sample_rate} Hz, {audio.duration_s:.2f} s>)"
        )


@dataclass(frozen=True)
class TranscribeResult:
    text: str
    body: TranscribeResponse
    response: httpx.Response


@dataclass(frozen=True)
class TranscriptionResult:
    """``/v1/audio/transcriptions``. ``text`` is the transcript for ``json`` and
    ``verbose_json``, and the whole document for ``text``, ``srt`` and ``vtt`` (``body`` is
    then None)."""

    text: str
    response_format: OpenAIResponseFormat
    body: OpenAITranscription | OpenAIVerboseTranscription | None
    response: httpx.Response
