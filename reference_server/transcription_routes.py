"""``POST /v1/transcribe`` (SPEC.md §11) and OpenAI's ``POST /v1/audio/transcriptions`` (§12)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from reference_server.backends.base import TranscriptionBackend
from reference_server.dependencies import context, guard_openai, guard_voicebox, server_of
from reference_server.disconnect import unless_disconnected
from reference_server.errors import ApiError, issues_from
from reference_server.scheduler import JobStats
from reference_server.transcripts import render
from reference_server.uploads import text_field
from voicebox_api import OpenAITranscriptionForm, TranscribeForm, TranscribeResponse

__all__ = ["router"]

router = APIRouter()

JSON: Final = "application/json"
_OPENAI_TEXT_FIELDS: Final = ("model", "language", "prompt", "response_format", "temperature")


@router.post("/v1/transcribe", dependencies=[Depends(guard_voicebox)])
async def transcribe(request: Request) -> Response:
    server = server_of(request)
    transcriber = server.runtime.require_transcriber()
    async with server.uploads.slot():
        async with server.uploads.form(request, "audio") as (data, form):
            language = text_field(form, "language") or request.query_params.get("language") or None
        try:
            TranscribeForm.model_validate({"audio": b"", "language": language}, strict=False)
        except ValidationError as exc:
            raise ApiError(422, issues_from(exc), code="validation_error") from None
        _check_language(transcriber, language, status=422)
        upload = await server.uploads.decode(data, param="audio")
        del data
        result, stats = await unless_disconnected(
            request,
            server.runtime.transcribe(upload.samples, upload.sample_rate, {"language": language}),
        )
    _add_timings(request, stats)
    return Response(TranscribeResponse(text=result.text).model_dump_json(), media_type=JSON)


@router.post("/v1/audio/transcriptions", dependencies=[Depends(guard_openai)])
async def openai_transcriptions(request: Request) -> Response:
    server = server_of(request)
    transcriber = server.runtime.require_transcriber()
    async with server.uploads.slot():
        async with server.uploads.form(request, "file") as (data, form):
            fields = _openai_fields(form)
        return await _openai_transcribe(request, transcriber, data, fields)


async def _openai_transcribe(
    request: Request, transcriber: TranscriptionBackend, data: bytes, fields: dict[str, Any]
) -> Response:
    server = server_of(request)
    try:
        parsed = OpenAITranscriptionForm.model_validate({"file": b"", **fields}, strict=False)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = str(first["loc"][0]) if first["loc"] else None
        raise ApiError(400, f"{param}: {first['msg']}", code=None, param=param) from None
    _check_language(transcriber, parsed.language, status=400)
    upload = await server.uploads.decode(data, param="file", undecodable_status=400)
    del data
    words = parsed.response_format == "verbose_json" and "word" in (
        parsed.timestamp_granularities or ()
    )
    options: dict[str, Any] = {
        "language": parsed.language,
        "prompt": parsed.prompt,
        "temperature": parsed.temperature,
        "word_timestamps": words,
    }
    result, stats = await unless_disconnected(
        request, server.runtime.transcribe(upload.samples, upload.sample_rate, options)
    )
    _add_timings(request, stats)
    rendered = render(result, parsed.response_format, words=words)
    return Response(rendered.body, media_type=rendered.media_type)


def _openai_fields(form: FormData) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in _OPENAI_TEXT_FIELDS:
        value = text_field(form, name)
        if value:  # OpenAI's clients send empty optional fields; empty means absent
            fields[name] = value
    granularities = [
        value
        for key in ("timestamp_granularities[]", "timestamp_granularities")
        for value in form.getlist(key)
    ]
    if granularities:
        fields["timestamp_granularities[]"] = granularities
    return fields


def _check_language(
    transcriber: TranscriptionBackend, language: str | None, *, status: int
) -> None:
    if language is None or language in transcriber.languages:
        return
    raise ApiError(
        status,
        f"language {language!r} is not supported by {transcriber.model}",
        code="unsupported_language",
        param="language",
    )


def _add_timings(request: Request, stats: JobStats) -> None:
    ctx = context(request)
    ctx.add_timing("queue", stats.queue_s)
    ctx.add_timing("inference", stats.inference_s)
