"""``POST /v1/generate`` and ``POST /v1/create_voice_prompt`` (SPEC.md §5, §6, §7)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Final, NoReturn

import anyio
from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from reference_server.backends.base import (
    BackendError,
    GenerateJob,
    TTSBackend,
)
from reference_server.cache import CacheKey, prompt_hash
from reference_server.dependencies import ServerState, context, guard_voicebox, server_of
from reference_server.disconnect import unless_disconnected
from reference_server.errors import ApiError, issues_from
from reference_server.middleware import RequestContext
from reference_server.scheduler import JobStats
from reference_server.streaming import negotiated_answer, stream_answer, wav_answer
from reference_server.uploads import text_field
from voicebox_api import STREAM_MEDIA_TYPE, WAV_MEDIA_TYPE, GenerateRequest, VoicePromptResponse

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(dependencies=[Depends(guard_voicebox)])

JSON: Final = "application/json"
_INLINE_BYTES: Final = 64 * 1024
"""Bodies up to this size are parsed on the event loop; larger ones on a worker thread."""


@dataclass(frozen=True)
class _Prepared:
    request: GenerateRequest
    voice: Any
    cache_key: CacheKey | None


@router.post("/v1/generate")
async def generate(request: Request) -> Response:
    server = server_of(request)
    tts = server.runtime.require_tts()
    answer = negotiated_answer(request, tts)
    body = await request.body()
    content_type = request.headers.get("content-type")
    with_key = server.cache.enabled
    if len(body) <= _INLINE_BYTES:
        prepared = _prepare(body, content_type, server, tts, with_key)
    else:
        prepared = await anyio.to_thread.run_sync(
            _prepare, body, content_type, server, tts, with_key
        )
    ctx = context(request)
    job = GenerateJob(
        text=prepared.request.text,
        voice=prepared.voice,
        language=prepared.request.language,
        seed=prepared.request.seed,
    )
    if answer == STREAM_MEDIA_TYPE:
        return await stream_answer(request, server, job)
    if answer == WAV_MEDIA_TYPE:
        return await wav_answer(request, server, job)

    async def produce() -> bytes:
        encoded, stats = await server.runtime.generate(job)
        ctx.add_timing("queue", stats.queue_s)
        ctx.add_timing("inference", stats.inference_s - encoded.batch_encode_s)
        ctx.add_timing("encode", encoded.encode_s)
        if stats.batch_size > 1:
            ctx.add_timing("batch", desc=str(stats.batch_size))
        return encoded.body

    if prepared.cache_key is None:
        payload = await unless_disconnected(request, produce())
    else:
        payload, cached = await unless_disconnected(
            request, server.cache.get_or_create(prepared.cache_key, produce)
        )
        if cached:
            ctx.add_timing("cache", desc="hit")
    return Response(payload, media_type=JSON)


@router.post("/v1/create_voice_prompt")
async def create_voice_prompt(request: Request) -> Response:
    server = server_of(request)
    server.runtime.require_tts()
    async with server.uploads.slot():
        async with server.uploads.form(request, "audio") as (data, form):
            reference_text = text_field(form, "reference_text")
        if reference_text is None:  # the seed's server reads it from the query string
            reference_text = request.query_params.get("reference_text", "")
        upload = await server.uploads.decode(data, param="audio")
        del data
        prompt, stats = await unless_disconnected(
            request,
            server.runtime.create_voice_prompt(upload.samples, upload.sample_rate, reference_text),
        )
    _add_timings(context(request), stats)
    body = VoicePromptResponse(voice_prompt=prompt).model_dump_json()
    return Response(body, media_type=JSON)


def _prepare(
    body: bytes, content_type: str | None, server: ServerState, tts: TTSBackend, with_key: bool
) -> _Prepared:
    """Parse and validate a generate request: everything that can be refused before queueing."""
    request = _parse(body, content_type)
    if len(request.text) > server.config.max_text_length:
        raise ApiError(
            413,
            f"text is {len(request.text)} characters; this server takes at most "
            f"{server.config.max_text_length}",
            code="text_too_long",
        )
    if request.language not in tts.languages:
        raise ApiError(
            422,
            f"language {request.language!r} is not supported; this server speaks "
            f"{', '.join(sorted(tts.languages))}",
            code="unsupported_language",
        )
    voice = _parse_voice(tts, request.voice_prompt)
    key = None
    if with_key and request.seed is not None:
        try:
            digest = prompt_hash(request.voice_prompt)
        except (ValueError, RecursionError):
            _refuse_prompt("the voice prompt is not canonical JSON")
        key = CacheKey(request.text, digest, request.language, request.seed)
    return _Prepared(request=request, voice=voice, cache_key=key)


def _parse(body: bytes, content_type: str | None) -> GenerateRequest:
    if content_type is not None and not _is_json(content_type):
        raise ApiError(
            415,
            f"send Content-Type: application/json, not {content_type[:80]!r}",
            code="unsupported_media_type",
        )
    if not body.strip():
        raise ApiError(400, "the body is empty; send a JSON object", code="invalid_json")
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise ApiError(
            400, f"the body is not valid JSON: {_first_line(exc)}", code="invalid_json"
        ) from None
    try:
        return GenerateRequest.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, issues_from(exc), code="validation_error") from None


def _parse_voice(tts: TTSBackend, prompt: dict[str, Any]) -> Any:
    try:
        return tts.parse_voice_prompt(prompt)
    except BackendError as exc:
        _refuse_prompt(str(exc))
    except Exception:
        # Parsing untrusted JSON is the backend's job; a crash there means the prompt is bad.
        logger.warning("parse_voice_prompt crashed on a prompt", exc_info=True)
        _refuse_prompt("the voice prompt was not made by this server's backend")


def _refuse_prompt(message: str) -> NoReturn:
    raise ApiError(422, message, code="invalid_voice_prompt") from None


def _add_timings(ctx: RequestContext, stats: JobStats) -> None:
    ctx.add_timing("queue", stats.queue_s)
    ctx.add_timing("inference", stats.inference_s)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON (RFC 8259 has no NaN or Infinity)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
