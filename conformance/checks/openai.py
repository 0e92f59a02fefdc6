"""SPEC.md §12: POST /v1/audio/transcriptions, OpenAI-compatible (WHISPER_MODE=openai-api)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError

from conformance.checks._expect import describe, expect_json_object, expect_status
from conformance.checks._subtitles import Cue, SubtitleError, parse_srt, parse_vtt
from conformance.engine.outcome import Evidence, Failed, NotApplicable, Unimplemented
from conformance.engine.references import transcription_clips
from conformance.engine.registry import check
from voicebox_api import (
    WRONG_API_KEY,
    AuthMode,
    OpenAIErrorEnvelope,
    OpenAIVerboseTranscription,
)

if TYPE_CHECKING:
    from conformance.engine.session import Session, Target

_MODEL = "whisper-1"


def _hosted_by_provider(s: Session) -> bool:
    """Whether the OpenAI endpoint under test is the TTS provider's own (else OPENAI_BASE_URL)."""
    if s.options.whisper_mode == "openai-api":
        return False
    declared = s.capabilities().openai_transcriptions
    if declared is False:
        raise Unimplemented("capabilities.openai_transcriptions is false")
    if declared is None:
        raise NotApplicable(
            "the provider declares no /v1/audio/transcriptions and no OpenAI server was given",
            "pass --whisper-mode openai-api --openai-base-url URL, or declare "
            "capabilities.openai_transcriptions",
        )
    return True


def _key_given(s: Session) -> bool:
    return bool(s.options.api_key if _hosted_by_provider(s) else s.options.openai_api_key)


def transcription(
    s: Session, *, with_file: bool = True, auth: AuthMode = "key", **fields: Any
) -> httpx.Response:
    headers = {}
    target: Target
    if _hosted_by_provider(s):
        # The provider's own key, but as OpenAI sends it: a Bearer token.
        path, target = "/v1/audio/transcriptions", "tts"
        if auth == "key" and s.options.api_key:
            auth = "bearer"
        elif auth == "wrong":
            auth, headers = "none", {"Authorization": f"Bearer {WRONG_API_KEY}"}
    else:
        path, target = "/audio/transcriptions", "openai"
    wav = transcription_clips()[0].encoded("wav")
    files = {"file": ("clip.wav", wav, "audio/wav")} if with_file else None
    data = {"model": _MODEL, **{k: str(v) for k, v in fields.items()}}
    return s.send(
        "POST",
        path,
        target=target,
        auth=auth,
        retry=with_file,
        files=files,
        data=data,
        headers=headers,
    )


def _answer(s: Session, response_format: str) -> httpx.Response:
    return s.memo(
        f"openai:{response_format}", lambda: transcription(s, response_format=response_format)
    )


def _plain_text(response: httpx.Response, what: str) -> str:
    expect_status(response, {200}, f"for response_format={what}")
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/plain"):
        raise Failed("Content-Type: text/plain", describe(response), response)
    return response.text


def _document(response: httpx.Response, what: str) -> str:
    """The body of a subtitle answer; its media type is OAI-2's concern, not the format's."""
    expect_status(response, {200}, f"for response_format={what}")
    return response.text


def _envelope_problem(response: httpx.Response) -> str | None:
    try:
        OpenAIErrorEnvelope.model_validate_json(response.text)
    except ValidationError as exc:
        return f"{exc.error_count()} schema errors: {describe(response)}"
    return None


@check("OAI-1")
def json_format_answers_text(s: Session) -> Evidence:
    response = _answer(s, "json")
    body = expect_json_object(response)
    if not isinstance(body.get("text"), str):
        raise Failed("a JSON object with a string member text", repr(body)[:200], response)
    return Evidence({"text": body["text"]}, response)


@check("OAI-2")
def text_format_answers_plain_text(s: Session) -> Evidence:
    text = _plain_text(_answer(s, "text"), "text")
    return Evidence({"text": text.strip()[:200]}, _answer(s, "text"))


@check("OAI-3")
def verbose_json_has_ordered_segments(s: Session) -> Evidence:
    response = _answer(s, "verbose_json")
    expect_status(response, {200})
    expect_json_object(response)
    try:
        verbose = OpenAIVerboseTranscription.model_validate_json(response.text)
    except ValidationError as exc:
        raise Failed(
            "task, language, duration, text and segments", str(exc)[:400], response
        ) from None
    previous_end = 0.0
    for segment in verbose.segments:
        if not (0 <= segment.start <= segment.end <= verbose.duration + 0.5) or (
            segment.start + 0.01 < previous_end
        ):
            raise Failed(
                f"segments in time order within {verbose.duration:.2f} s",
                f"segment {segment.id}: {segment.start:.2f}-{segment.end:.2f} s after "
                f"{previous_end:.2f} s",
                response,
            )
        previous_end = segment.end
    return Evidence({"segments": len(verbose.segments), "duration": verbose.duration}, response)


def _expect_subtitles(
    s: Session, response_format: str, parse: Callable[[str], list[Cue]], document: str
) -> Evidence:
    """A valid subtitle document with at least one cue: the bundled clip is speech."""
    response = _answer(s, response_format)
    try:
        cues = parse(_document(response, response_format))
    except SubtitleError as exc:
        raise Failed(f"a valid {document} document", str(exc), response) from None
    if not cues:
        raise Failed(f"a {document} document with the speech's cues", "no cue", response)
    return Evidence({"cues": len(cues)}, response)


@check("OAI-4")
def srt_format_is_valid_subrip(s: Session) -> Evidence:
    return _expect_subtitles(s, "srt", parse_srt, "SubRip")


@check("OAI-5")
def vtt_format_is_valid_webvtt(s: Session) -> Evidence:
    return _expect_subtitles(s, "vtt", parse_vtt, "WebVTT")


@check("OAI-6")
def errors_use_the_openai_envelope(s: Session) -> Evidence:
    missing_file = transcription(s, with_file=False)
    expect_status(missing_file, {400}, "for a request without file")
    bad_format = transcription(s, response_format="mp4")
    for response in (missing_file, bad_format):
        expect_status(response, set(range(400, 500)), "for an invalid request")
        problem = _envelope_problem(response)
        if problem:
            raise Failed('{"error": {"message", "type", "param", "code"}}', problem, response)
    return Evidence({"statuses": [missing_file.status_code, bad_format.status_code]})


@check("OAI-7")
def optional_fields_are_accepted(s: Session) -> Evidence:
    response = transcription(s, language="en", prompt="A short everyday sentence.", temperature="0")
    expect_status(response, {200}, "with language, prompt and temperature")
    return Evidence({"fields": ["language", "prompt", "temperature"]}, response)


@check("OAI-8")
def bearer_key_is_required(s: Session) -> Evidence:
    if not _key_given(s):
        raise NotApplicable(
            "no key given for the OpenAI-compatible endpoint",
            "pass --provider-api-key (provider-hosted) or --openai-api-key",
        )
    for auth in ("none", "wrong"):
        response = transcription(s, auth=auth)
        expect_status(response, {401}, f"with {'no' if auth == 'none' else 'a wrong'} key")
    return Evidence({"checked": ["no key", "wrong key"]})
