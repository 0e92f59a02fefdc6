"""The five endpoints as data: how to build each request and how to read its answer.

Nothing here does I/O, so the sync and the async client share all of it. Request bodies are
built by the models of ``voicebox_api._models`` (invalid arguments raise pydantic's
``ValidationError`` before anything is sent); answers are validated by them and audio is
decoded by ``voicebox_api._codec``. A success whose body breaks the contract raises
:class:`Violation`, which the client turns into a ``ProtocolError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypedDict, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from voicebox_api._client._results import (
    GenerateResult,
    HealthResult,
    TranscribeResult,
    TranscriptionResult,
    VoicePromptResult,
)
from voicebox_api._client._retry import RETRYABLE_STATUSES
from voicebox_api._codec import AudioCodecError, decode_response
from voicebox_api._models import (
    READY_STATUSES,
    CreateVoicePromptForm,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    OpenAIResponseFormat,
    OpenAITranscription,
    OpenAITranscriptionForm,
    OpenAIVerboseTranscription,
    TranscribeForm,
    TranscribeResponse,
    VoicePromptResponse,
)

__all__ = [
    "WRONG_API_KEY",
    "AuthMode",
    "Endpoint",
    "RequestOptions",
    "RequestSpec",
    "Target",
    "Violation",
    "audio_content_type",
]

AuthMode = Literal["key", "bearer", "none", "wrong"]
"""How a request authenticates: ``key`` as its target expects (``X-API-Key`` on Voicebox
endpoints, ``Authorization: Bearer`` on OpenAI's), ``bearer`` as a Bearer token (AUTH-5),
``none`` without credentials, and ``wrong`` with :data:`WRONG_API_KEY` where ``key`` would put
the key."""

Target = Literal["tts", "whisper", "openai"]
"""Which base URL a path is relative to: ``TTS_REMOTE_URL``; the Whisper server
(``WHISPER_REMOTE_URL``, else the TTS provider); ``OPENAI_BASE_URL``."""

WRONG_API_KEY = "wrong-key-from-voicebox-conformance"  # deliberately public
"""The key that ``auth="wrong"`` sends. It is not a secret: curl commands show it."""

R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


class RequestOptions(TypedDict, total=False):
    """Keyword arguments of the clients' low-level ``request()``."""

    target: Target
    json: Any
    content: bytes | str
    data: Mapping[str, Any]
    files: Mapping[str, Any] | Sequence[tuple[str, Any]]
    params: Mapping[str, str]
    headers: Mapping[str, str]
    auth: AuthMode
    retry: bool
    timeout: httpx.Timeout | float


@dataclass(frozen=True)
class RequestSpec:
    """Everything needed to build one ``httpx.Request``; ``path`` is relative to the target's
    base URL (which may hold a path prefix), or an absolute ``http(s)://`` URL."""

    method: str
    path: str
    target: Target = "tts"
    json: Any = None
    content: bytes | str | None = None
    data: Mapping[str, Any] | None = None
    files: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: AuthMode = "key"
    timeout: httpx.Timeout | float | None = None


class Violation(Exception):
    """A success answer broke SPEC.md ``clause``; ``cause`` says how."""

    def __init__(self, clause: str, cause: AudioCodecError | ValidationError) -> None:
        super().__init__(clause, cause)
        self.clause = clause
        self.cause = cause


def _is_200(response: httpx.Response) -> bool:
    return response.status_code == 200


@dataclass(frozen=True)
class Endpoint(Generic[R]):
    """One typed call: its request, which answers it accepts and how it reads them."""

    name: str
    spec: RequestSpec
    parse: Callable[[httpx.Response], R]
    accepts: Callable[[httpx.Response], bool] = _is_200
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES


# --- The endpoints -----------------------------------------------------------------------------


def health() -> Endpoint[HealthResult]:
    """``GET /health``. A 503 that carries a health body is the answer (``loading``), not a
    failure, so it is returned rather than retried; a bare 503 (a balancer's) is an error."""
    return Endpoint(
        "health",
        RequestSpec("GET", "health"),
        lambda response: HealthResult(_parse_health(response), response),
        accepts=_health_answered,
        retry_statuses=frozenset({429}),
    )


def create_voice_prompt(
    audio: bytes, reference_text: str, filename: str, content_type: str | None
) -> Endpoint[VoicePromptResult]:
    form = CreateVoicePromptForm(audio=audio, reference_text=reference_text)
    spec = RequestSpec(
        "POST",
        "v1/create_voice_prompt",
        files={"audio": (filename, form.audio, content_type or audio_content_type(form.audio))},
        data={"reference_text": form.reference_text},
    )
    return Endpoint("create_voice_prompt", spec, _parse_voice_prompt)


def generate(
    text: str, voice_prompt: Mapping[str, Any], language: str, seed: int | None
) -> Endpoint[GenerateResult]:
    body = GenerateRequest(text=text, voice_prompt=dict(voice_prompt), language=language, seed=seed)
    spec = RequestSpec("POST", "v1/generate", json=body.model_dump(mode="json"))
    return Endpoint("generate", spec, _parse_generate)


def transcribe(
    audio: bytes, language: str | None, filename: str, content_type: str | None
) -> Endpoint[TranscribeResult]:
    form = TranscribeForm(audio=audio, language=language)
    spec = RequestSpec(
        "POST",
        "v1/transcribe",
        target="whisper",
        files={"audio": (filename, form.audio, content_type or audio_content_type(form.audio))},
        data={} if form.language is None else {"language": form.language},
    )
    return Endpoint("transcribe", spec, _parse_transcribe)


def transcriptions(
    file: bytes,
    *,
    model: str,
    language: str | None,
    prompt: str | None,
    response_format: OpenAIResponseFormat,
    temperature: float | None,
    timestamp_granularities: Sequence[Literal["word", "segment"]] | None,
    filename: str,
    content_type: str | None,
) -> Endpoint[TranscriptionResult]:
    form = OpenAITranscriptionForm.model_validate(
        {
            "file": file,
            "model": model,
            "language": language,
            "prompt": prompt,
            "response_format": response_format,
            "temperature": 0.0 if temperature is None else temperature,
            "timestamp_granularities[]": timestamp_granularities,
        }
    )
    data: dict[str, Any] = {"model": form.model, "response_format": form.response_format}
    optional = {"language": form.language, "prompt": form.prompt}
    data.update({name: value for name, value in optional.items() if value is not None})
    if temperature is not None:
        data["temperature"] = repr(form.temperature)
    if form.timestamp_granularities:
        data["timestamp_granularities[]"] = list(form.timestamp_granularities)
    spec = RequestSpec(
        "POST",
        "audio/transcriptions",
        target="openai",
        files={"file": (filename, form.file, content_type or audio_content_type(form.file))},
        data=data,
    )
    return Endpoint(
        "transcriptions", spec, lambda response: _parse_transcription(response, response_format)
    )


# --- Reading answers ---------------------------------------------------------------------------


def _health_answered(response: httpx.Response) -> bool:
    if response.status_code == 200:
        return True
    if response.status_code != 503:
        return False
    try:
        return HealthResponse.model_validate_json(response.content).status not in READY_STATUSES
    except ValidationError:
        return False


def _parse_health(response: httpx.Response) -> HealthResponse:
    return _validated(
        HealthResponse, response, "HLT-1", {"status": "HLT-2", "capabilities": "HLT-3"}
    )


def _parse_voice_prompt(response: httpx.Response) -> VoicePromptResult:
    body = _validated(VoicePromptResponse, response, "VP-2")
    return VoicePromptResult(body.voice_prompt, body, response)


def _parse_generate(response: httpx.Response) -> GenerateResult:
    body = _validated(
        GenerateResponse, response, "GEN-2", {"sample_rate": "AUD-5", "dtype": "AUD-2"}
    )
    try:
        audio = decode_response(body)
    except AudioCodecError as exc:
        raise Violation(exc.clause, exc) from exc
    return GenerateResult(audio, body, response)


def _parse_transcribe(response: httpx.Response) -> TranscribeResult:
    body = _validated(TranscribeResponse, response, "TRN-1")
    return TranscribeResult(body.text, body, response)


def _parse_transcription(
    response: httpx.Response, response_format: OpenAIResponseFormat
) -> TranscriptionResult:
    body: OpenAITranscription | OpenAIVerboseTranscription | None
    if response_format == "json":
        body = _validated(OpenAITranscription, response, "OAI-1")
    elif response_format == "verbose_json":
        body = _validated(OpenAIVerboseTranscription, response, "OAI-3")
    else:
        return TranscriptionResult(response.text, response_format, None, response)
    return TranscriptionResult(body.text, response_format, body, response)


def _validated(
    model: type[M],
    response: httpx.Response,
    clause: str,
    field_clauses: Mapping[str, str] | None = None,
) -> M:
    """Validate a JSON body. A violation names the clause of its first offending member, or
    ``clause`` when a member is missing or the body is not the object it should be."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0]
        member = str(first["loc"][0]) if first["loc"] and first["type"] != "missing" else ""
        raise Violation((field_clauses or {}).get(member, clause), exc) from exc


def audio_content_type(data: bytes) -> str:
    """The media type of an upload, sniffed from its first bytes (never from a filename)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"fLaC":
        return "audio/flac"
    if data[:4] == b"OggS":
        return "audio/ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return "application/octet-stream"
