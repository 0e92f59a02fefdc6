"""Generate the OpenAPI 3.1 document of Provider API v0.2 from the pydantic models.

``python -m voicebox_api.openapi > openapi.json`` rewrites the committed document; a test fails
when the committed file and the models drift apart.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from voicebox_api import _models as m
from voicebox_api._version import SPEC_VERSION

__all__ = ["build_openapi", "render"]

_REF = "#/components/schemas/{model}"

_SCHEMA_MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
    (m.GenerateRequest, "validation"),
    (m.CreateVoicePromptForm, "validation"),
    (m.TranscribeForm, "validation"),
    (m.OpenAITranscriptionForm, "validation"),
    (m.SpeechRequest, "validation"),
    *((model, "serialization") for model in m.RESPONSE_MODELS),
)

_ERROR_TEXT = {
    "400": "The request cannot be parsed.",
    "401": "The API key is missing or wrong.",
    "413": "The body, upload or text is over the provider's limit.",
    "415": "The upload is not audio in a supported format.",
    "406": "Accept allows none of the answers the provider offers (SPEC.md section 14).",
    "422": "The request parses but is invalid.",
    "429": "Rate limited; retry after Retry-After.",
    "503": "Loading, unhealthy or overloaded; retry after Retry-After.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait, or an HTTP-date (ERR-8).",
        "schema": {"type": "string"},
        "required": True,
    }
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(codes: str, envelope: type[BaseModel] = m.ErrorBody) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for code in codes.split():
        response = _json(_ref(envelope), _ERROR_TEXT[code])
        if code in ("429", "503"):
            response["headers"] = _RETRY_AFTER
        responses[code] = response
    return responses


def _multipart(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": {"multipart/form-data": {"schema": _ref(model)}}}


def _generate() -> dict[str, Any]:
    return {
        "post": {
            "operationId": "generate",
            "summary": "Generate speech from text with a voice prompt (SPEC.md section 6).",
            "security": [{"ApiKey": []}, {}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(m.GenerateRequest)}},
            },
            "parameters": [
                {
                    "name": "Accept",
                    "in": "header",
                    "required": False,
                    "description": "application/json (default), audio/wav (wav_audio) or "
                    f"{m.STREAM_MEDIA_TYPE} (streaming); SPEC.md section 14.",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": _generate_answers(),
                **_errors("400 401 406 413 415 422 429 503"),
            },
        }
    }


def _generate_answers() -> dict[str, Any]:
    answer = _json(_ref(m.GenerateResponse), "The generated audio, in the negotiated form.")
    answer["content"][m.WAV_MEDIA_TYPE] = {"schema": {"type": "string", "format": "binary"}}
    answer["content"][m.STREAM_MEDIA_TYPE] = {
        "schema": {
            "type": "string",
            "format": "binary",
            "description": "Frames of 1 type byte (H, A, E, X), a 4-byte little-endian length "
            "and the payload: StreamHeader, samples, StreamEnd or ErrorBody (SPEC.md 14.2).",
        }
    }
    answer["headers"] = {
        "X-Accel-Buffering": {
            "description": "no, on a stream: proxies must not buffer it (STR-8).",
            "schema": {"type": "string"},
        }
    }
    return answer


def _create_voice_prompt() -> dict[str, Any]:
    return {
        "post": {
            "operationId": "createVoicePrompt",
            "summary": "Create a voice prompt from reference audio (SPEC.md section 5).",
            "security": [{"ApiKey": []}, {}],
            "requestBody": _multipart(m.CreateVoicePromptForm),
            "responses": {
                "200": _json(_ref(m.VoicePromptResponse), "The voice prompt."),
                **_errors("400 401 413 415 422 429 503"),
            },
        }
    }


def _health() -> dict[str, Any]:
    unavailable = _json(_ref(m.HealthResponse), "Loading or unhealthy (HLT-2).")
    unavailable["headers"] = _RETRY_AFTER
    return {
        "get": {
            "operationId": "health",
            "summary": "Health and capabilities; open without a key (SPEC.md section 4).",
            "responses": {
                "200": _json(_ref(m.HealthResponse), "Ready: healthy or degraded."),
                "503": unavailable,
            },
        }
    }


def _transcribe() -> dict[str, Any]:
    return {
        "post": {
            "operationId": "transcribe",
            "summary": "Transcribe audio (SPEC.md section 11).",
            "security": [{"ApiKey": []}, {}],
            "requestBody": _multipart(m.TranscribeForm),
            "responses": {
                "200": _json(_ref(m.TranscribeResponse), "The transcript."),
                **_errors("400 401 413 415 422 429 503"),
            },
        }
    }


def _openai_transcriptions() -> dict[str, Any]:
    json_bodies = {"oneOf": [_ref(m.OpenAITranscription), _ref(m.OpenAIVerboseTranscription)]}
    return {
        "post": {
            "operationId": "createTranscription",
            "summary": "OpenAI-compatible transcription (SPEC.md section 12).",
            "security": [{"Bearer": []}, {}],
            "requestBody": _multipart(m.OpenAITranscriptionForm),
            "responses": {
                "200": {
                    "description": "json and verbose_json as JSON; text, srt and vtt as text.",
                    "content": {
                        "application/json": {"schema": json_bodies},
                        "text/plain": {"schema": {"type": "string"}},
                    },
                },
                **_errors("400 401 413 415 422 429 503", m.OpenAIErrorEnvelope),
            },
        }
    }


_SPEECH_MEDIA_TYPES = (
    "audio/mpeg",
    "audio/ogg",
    "audio/aac",
    "audio/flac",
    "audio/wav",
    "audio/pcm",
)


def _openai_speech() -> dict[str, Any]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    events = {"oneOf": [_ref(m.SpeechAudioDeltaEvent), _ref(m.SpeechAudioDoneEvent)]}
    return {
        "post": {
            "operationId": "createSpeech",
            "summary": "OpenAI-compatible speech (SPEC.md section 15).",
            "security": [{"Bearer": []}, {}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(m.SpeechRequest)}},
            },
            "responses": {
                "200": {
                    "description": "The audio file in response_format; with stream_format=sse, "
                    "speech.audio.delta events and one speech.audio.done.",
                    "content": {
                        **{media: binary for media in _SPEECH_MEDIA_TYPES},
                        "text/event-stream": {"schema": events},
                    },
                },
                **_errors("400 401 413 429 503", m.OpenAIErrorEnvelope),
            },
        }
    }


_FORM_MODELS: tuple[type[BaseModel], ...] = (
    m.CreateVoicePromptForm,
    m.TranscribeForm,
    m.OpenAITranscriptionForm,
)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A multipart field cannot be null, only absent: drop the ``null`` branch of its type."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or {"type": "null"} not in branches:
        return schema
    rest = [branch for branch in branches if branch != {"type": "null"}]
    others = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    if len(rest) == 1:
        return {**rest[0], **others}
    return {"anyOf": rest, **others}


def _form_fields_not_nullable(schemas: dict[str, Any]) -> None:
    for model in _FORM_MODELS:
        schemas[model.__name__]["maxProperties"] = m.MAX_FORM_PARTS
        properties = schemas[model.__name__]["properties"]
        for name, schema in properties.items():
            properties[name] = _without_null(schema)


def build_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API, built from the models alone."""
    _, schemas = models_json_schema(_SCHEMA_MODELS, ref_template=_REF)
    _form_fields_not_nullable(schemas["$defs"])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Voicebox External Provider API",
            "version": SPEC_VERSION,
            "description": "Generated from voicebox_api/_models.py; SPEC.md is normative.",
        },
        "paths": {
            "/health": _health(),
            "/v1/generate": _generate(),
            "/v1/create_voice_prompt": _create_voice_prompt(),
            "/v1/transcribe": _transcribe(),
            "/v1/audio/transcriptions": _openai_transcriptions(),
            "/v1/audio/speech": _openai_speech(),
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def render() -> str:
    return json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n"
