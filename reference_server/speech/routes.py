"""``POST /v1/audio/speech`` (SPEC.md §15): OpenAI's speech API on the server's TTS backend.

The voice is a named built-in one (``alloy``, ``echo``) or, with vLLM-Omni's extension, the
``ref_audio`` data URL and its ``ref_text``, made into a voice prompt by the same backend call as
``/v1/create_voice_prompt``. Errors use OpenAI's envelope (``reference_server.errors``).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

import anyio
import numpy as np
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from reference_server.backends.base import BackendError, GenerateJob, Synthesis, TTSBackend
from reference_server.dependencies import ServerState, guard_openai, server_of
from reference_server.disconnect import unless_disconnected
from reference_server.errors import ApiError
from reference_server.speech import stream
from reference_server.speech.clones import ClonedPrompts
from reference_server.speech.formats import MEDIA_TYPES, encode
from reference_server.speech.languages import language_code
from reference_server.speech.refaudio import data_url_bytes
from reference_server.speech.tempo import change_speed
from reference_server.speech.voices import NamedVoices, UnknownVoiceError
from reference_server.streaming import ChannelResponse, count_audio, open_stream, relay
from voicebox_api import SpeechRequest

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(guard_openai)])

PATH: Final = "/v1/audio/speech"

logger = logging.getLogger(__name__)


def _bad(message: str, param: str | None, code: str | None = None) -> ApiError:
    return ApiError(400, message, code=code, param=param)


@router.post(PATH)
async def create_speech(request: Request) -> Response:
    server = server_of(request)
    tts = server.runtime.require_tts()
    speech = _parse(await request.body())
    language = _language(speech, tts)
    if len(speech.input) > server.config.max_text_length:
        raise _bad(
            f"input is {len(speech.input)} characters; this server takes at most "
            f"{server.config.max_text_length}",
            "input",
            "input_too_long",
        )
    prompt = await _voice_prompt(request, server, speech)
    try:
        voice = tts.parse_voice_prompt(prompt)
    except BackendError as exc:
        raise _bad(str(exc), "ref_audio") from None
    job = GenerateJob(text=speech.input, voice=voice, language=language, seed=speech.seed)
    if speech.response_format == "pcm" and (speech.stream or speech.stream_format == "sse"):
        return await _streamed_pcm(request, server, speech, job)
    synthesis, _ = await unless_disconnected(request, server.runtime.synthesize(job))
    if speech.speed != 1.0:
        samples = await anyio.to_thread.run_sync(
            change_speed, synthesis.samples, synthesis.sample_rate, speech.speed
        )
        synthesis = Synthesis(samples=samples, sample_rate=synthesis.sample_rate)
    return await _answer(speech, synthesis)


def _parse(body: bytes) -> SpeechRequest:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _bad("the body is not valid JSON", None, "invalid_json") from None
    try:
        speech = SpeechRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise _bad(f"{param}: {first['msg']}", param) from None
    if speech.stream and speech.response_format != "pcm":
        raise _bad("stream=true needs response_format=pcm", "stream", "stream_needs_pcm")
    if speech.task_type not in (None, "Base"):
        raise _bad(
            "this server clones voices: task_type must be Base or absent",
            "task_type",
            "unsupported_task_type",
        )
    return speech


def _language(speech: SpeechRequest, tts: TTSBackend) -> str:
    code = language_code(speech.language)
    if code is None or code not in tts.languages:
        raise _bad(
            f"language {speech.language!r} is not supported", "language", "unsupported_language"
        )
    return code


async def _voice_prompt(
    request: Request, server: ServerState, speech: SpeechRequest
) -> dict[str, Any]:
    if speech.ref_audio is not None:
        data = data_url_bytes(speech.ref_audio, limit=server.config.max_upload_bytes)
        text = "" if speech.x_vector_only_mode else speech.ref_text or ""
        return await _clone(request, server, data, text)
    voices: NamedVoices = request.app.state.speech_voices

    async def make(clip: Any) -> dict[str, Any]:
        prompt, _ = await server.runtime.create_voice_prompt(
            clip.samples, clip.sample_rate, clip.text
        )
        return prompt

    try:
        return await voices.prompt(speech.voice_name, make)
    except UnknownVoiceError:
        raise _bad(
            f"voice {speech.voice_name!r} is not one of {', '.join(voices.names())}; or send "
            "ref_audio",
            "voice",
            "voice_not_found",
        ) from None


async def _clone(request: Request, server: ServerState, data: bytes, text: str) -> dict[str, Any]:
    clones: ClonedPrompts = request.app.state.speech_clones

    async def make() -> dict[str, Any]:
        async with server.uploads.slot():
            try:
                upload = await server.uploads.decode(data, param="ref_audio")
            except ApiError as exc:
                if exc.status == 413:
                    raise
                raise _bad(f"ref_audio: {exc.detail}", "ref_audio", exc.code) from None
            prompt, _ = await unless_disconnected(
                request,
                server.runtime.create_voice_prompt(upload.samples, upload.sample_rate, text),
            )
        return prompt

    return await clones.get_or_make(ClonedPrompts.key(data, text), make)


async def _streamed_pcm(
    request: Request, server: ServerState, speech: SpeechRequest, job: GenerateJob
) -> Response:
    """PCM as the backend makes it (``speech.stream``); errors before the first byte keep
    their status, a failure after it aborts the response (raw PCM has no way to say so)."""
    opened = await open_stream(request, server, job, stream.pcm_producer(speech.speed))

    def end(total_samples: int) -> bytes:
        count_audio(server, total_samples)
        return b""

    chunks = relay(opened, end=end, failed=_abort)
    if speech.stream_format == "sse":
        events = stream.sse_events(chunks, len(speech.input))
        return ChannelResponse(opened, events, media_type="text/event-stream")
    return ChannelResponse(opened, chunks, media_type=MEDIA_TYPES["pcm"])


def _abort(error: BaseException) -> bytes:
    logger.warning("a streamed speech answer failed after its first byte: %r", error)
    raise SpeechStreamBrokenError from None


class SpeechStreamBrokenError(Exception):
    """Raised into the ASGI server, which then closes the connection without ending the body:
    the client sees a broken stream, never a short clip."""


async def _answer(speech: SpeechRequest, synthesis: Synthesis) -> Response:
    fmt = speech.response_format
    if speech.stream_format == "sse":
        data = await _encoded(synthesis, fmt)
        events = stream.sse_events(stream.iterate(stream.byte_chunks(data)), len(speech.input))
        return StreamingResponse(events, media_type="text/event-stream")
    return Response(await _encoded(synthesis, fmt), media_type=MEDIA_TYPES[fmt])


async def _encoded(synthesis: Synthesis, fmt: Any) -> bytes:
    samples = np.asarray(synthesis.samples, dtype=np.float32)
    return await anyio.to_thread.run_sync(encode, samples, synthesis.sample_rate, fmt)
