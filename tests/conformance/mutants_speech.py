"""One mutant per SPEECH-* clause (SPEC.md §15): the reference server with one speech defect."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import httpx
import numpy as np
import soundfile as sf

from conformance.engine.corpus import PLAIN_TEXTS
from tests.conformance.mutants import (
    Mutant,
    json_body,
    ok,
    on_request,
    on_response,
    respond,
    set_content_type,
)
from tests.conformance.provider import API_KEY
from tests.conformance.rewrite import Exchange

PATH = "/v1/audio/speech"
_PLAIN = {"model", "input", "voice", "response_format"}
ERROR_400 = {"error": {"message": "not supported", "type": "invalid_request_error", "param": None}}


def is_speech(ex: Exchange) -> bool:
    return ex.method == "POST" and ex.path == PATH


def speech_body(ex: Exchange) -> dict[str, Any]:
    body = json_body(ex) if is_speech(ex) else None
    return body if isinstance(body, dict) else {}


def asks(**fields: Any) -> Any:
    """A matcher: a speech request whose body has these members with these values."""
    return lambda ex: is_speech(ex) and all(speech_body(ex).get(k) == v for k, v in fields.items())


def plain_wav(ex: Exchange) -> bool:
    body = speech_body(ex)
    return body.get("response_format") == "wav" and set(body) <= _PLAIN


def edit_body(match: Any, change: Any) -> Any:
    def edit(ex: Exchange) -> None:
        body = speech_body(ex)
        change(body)
        ex.set_json(body)

    return on_request(match, edit)


def edit_wav(change: Any) -> Any:
    def edit(ex: Exchange) -> None:
        samples, rate = sf.read(io.BytesIO(ex.response_body), dtype="float32")
        buffer = io.BytesIO()
        sf.write(buffer, change(samples), rate, format="WAV", subtype="PCM_16")
        ex.response_body = buffer.getvalue()

    return on_response(lambda ex: ok(is_speech)(ex) and plain_wav(ex), edit)


def pcm_as_float32(ex: Exchange) -> None:
    samples = np.frombuffer(ex.response_body, "<i2").astype(np.float32) / 32768
    ex.response_body = samples.astype("<f4").tobytes()


def without(*names: str) -> Any:
    def change(body: dict[str, Any]) -> None:
        for name in names:
            body.pop(name, None)

    return change


def drop_valid_speed(body: dict[str, Any]) -> None:
    if isinstance(body.get("speed"), float) and 0.25 <= body["speed"] <= 4.0:
        del body["speed"]


def to_fastapi_422(ex: Exchange) -> None:
    ex.status = 422
    ex.set_response_json({"detail": "invalid request"})


async def fetch_url_ref_audio(ex: Exchange) -> None:
    url = str(speech_body(ex).get("ref_audio", ""))
    if url.startswith("http"):
        async with httpx.AsyncClient(timeout=2) as client:
            with contextlib.suppress(httpx.HTTPError):
                await client.get(url)


def speech_mutants() -> list[Mutant]:
    m: list[Mutant] = []

    def add(clause: str, defect: str, rewrite: Any, **config: Any) -> None:
        m.append(Mutant(clause, defect, rewrite, config))

    add("SPEECH-1", "answers WAV full of silence", lambda: edit_wav(np.zeros_like))
    add(
        "SPEECH-2",
        "defaults to WAV, as vLLM-Omni does",
        lambda: edit_body(
            lambda ex: is_speech(ex) and "response_format" not in speech_body(ex),
            lambda body: body.update(response_format="wav"),
        ),
    )
    add(
        "SPEECH-3",
        "labels a WAV file as MP3",
        lambda: edit_body(asks(response_format="mp3"), lambda b: b.update(response_format="wav")),
    )
    add(
        "SPEECH-4",
        "has no AAC encoder",
        lambda: on_request(asks(response_format="aac"), respond(400, ERROR_400)),
    )
    add(
        "SPEECH-5",
        "sends pcm as float32",
        lambda: on_response(
            lambda ex: (
                ok(asks(response_format="pcm"))(ex)
                and not speech_body(ex).get("stream")
                and speech_body(ex).get("stream_format") != "sse"
            ),
            pcm_as_float32,
        ),
    )
    add(
        "SPEECH-6",
        "labels MP3 as application/octet-stream",
        lambda: on_response(
            ok(asks(response_format="mp3")), set_content_type("application/octet-stream")
        ),
    )
    add(
        "SPEECH-7",
        "clips its WAV output",
        lambda: edit_wav(lambda samples: np.clip(samples * 8, -1.0, 1.0)),
    )
    add("SPEECH-8", "ignores speed", lambda: edit_body(is_speech, drop_valid_speed))
    add(
        "SPEECH-9",
        "speaks another text",
        lambda: edit_body(
            asks(input=PLAIN_TEXTS["call"]), lambda b: b.update(input=PLAIN_TEXTS["walk"])
        ),
    )
    add(
        "SPEECH-10",
        "crashes on an empty input",
        lambda: on_request(
            asks(input=""), respond(500, {"error": {"message": "Internal Server Error"}})
        ),
    )
    add(
        "SPEECH-11",
        "answers bad input 422 in FastAPI's shape",
        lambda: on_response(lambda ex: is_speech(ex) and ex.status == 400, to_fastapi_422),
    )
    add(
        "SPEECH-12",
        "lets anyone in",
        lambda: on_request(
            is_speech,
            lambda ex: ex.headers.update({"authorization": f"Bearer {API_KEY}"}),
            before_auth=True,
        ),
    )
    add(
        "SPEECH-13",
        "names its SSE events response.audio.*",
        lambda: on_response(
            ok(asks(stream_format="sse")),
            lambda ex: setattr(
                ex,
                "response_body",
                ex.response_body.replace(b'"speech.audio.', b'"response.audio.'),
            ),
        ),
    )
    add(
        "SPEECH-14",
        "refuses instructions",
        lambda: on_request(
            lambda ex: is_speech(ex) and "instructions" in speech_body(ex), respond(400, ERROR_400)
        ),
    )
    add(
        "SPEECH-15",
        "ignores stream=true for mp3",
        lambda: edit_body(asks(stream=True, response_format="mp3"), without("stream")),
    )
    add(
        "SPEECH-16",
        "ignores ref_audio",
        lambda: edit_body(
            lambda ex: (
                is_speech(ex)
                and str(speech_body(ex).get("ref_audio", "")).startswith("data:audio/wav")
            ),
            without("ref_audio", "ref_text"),
        ),
    )
    add(
        "SPEECH-17",
        "answers an oversize ref_audio 400",
        lambda: on_response(
            lambda ex: is_speech(ex) and ex.status == 413, lambda ex: setattr(ex, "status", 400)
        ),
    )
    add(
        "SPEECH-18",
        "fetches an http ref_audio before refusing it",
        lambda: on_request(is_speech, fetch_url_ref_audio),
    )
    return m
