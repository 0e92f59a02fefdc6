"""SPEC.md §12: POST /v1/audio/transcriptions, OpenAI-compatible (WHISPER_MODE=openai-api)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError

from conformance.checks import _judging as judging
from conformance.checks._expect import describe, expect_json_object, expect_status
from conformance.checks._probe import serves_undeclared
from conformance.checks._subtitles import Cue, SubtitleError, parse_srt, parse_vtt
from conformance.engine.outcome import Blocked, Evidence, Failed, NotApplicable, Unimplemented
from conformance.engine.references import ReferenceClip, transcription_clips
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
_PROVIDER_PATH = "/v1/audio/transcriptions"
_ENVELOPE = '{"error": {"message", "type", "param", "code"}}'
_NOT_AUDIO = b"This is a text file, not audio.\n" * 10


def _hosted_by_provider(s: Session) -> bool:
    """Whether the OpenAI endpoint under test is the TTS provider's own (else OPENAI_BASE_URL)."""
    if s.options.whisper_mode == "openai-api":
        return False
    declared = s.capabilities().openai_transcriptions
    if declared is False:
        raise Unimplemented("capabilities.openai_transcriptions is false")
    if declared is None and not serves_undeclared(s, _PROVIDER_PATH, auth="bearer"):
        raise NotApplicable(
            "the provider declares no /v1/audio/transcriptions and no OpenAI server was given",
            "pass --whisper-mode openai-api --openai-base-url URL, or declare "
            "capabilities.openai_transcriptions",
        )
    return True


def _key_given(s: Session) -> bool:
    return bool(s.options.api_key if _hosted_by_provider(s) else s.options.openai_api_key)


def transcription(
    s: Session,
    *,
    with_file: bool = True,
    audio: bytes | None = None,
    filename: str = "clip.wav",
    auth: AuthMode = "key",
    **fields: Any,
) -> httpx.Response:
    headers = {}
    target: Target
    if _hosted_by_provider(s):
        # The provider's own key, but as OpenAI sends it: a Bearer token.
        path, target = _PROVIDER_PATH, "tts"
        if auth == "key" and s.options.api_key:
            auth = "bearer"
        elif auth == "wrong":
            auth, headers = "none", {"Authorization": f"Bearer {WRONG_API_KEY}"}
    else:
        path, target = "/audio/transcriptions", "openai"
    data = {"model": _MODEL, **{k: str(v) for k, v in fields.items()}}
    # Without a file the fields still travel as multipart (httpx sends (None, value) parts as
    # form fields), as OpenAI's clients send them; a urlencoded body could fairly get a 415.
    parts: dict[str, Any] = {name: (None, value) for name, value in data.items()}
    if with_file:
        parts["file"] = (filename, _first_wav() if audio is None else audio, "audio/wav")
    return s.send(
        "POST", path, target=target, auth=auth, retry=with_file, files=parts, headers=headers
    )


def _first_wav() -> bytes:
    return transcription_clips()[0].encoded("wav")


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
    """What OpenAI promises and its SDK types: the members and their types, segments in order.
    Not that a segment ends within the clip: Whisper's last timestamp may run past it."""
    response = _answer(s, "verbose_json")
    expect_status(response, {200})
    expect_json_object(response)
    try:
        verbose = OpenAIVerboseTranscription.model_validate_json(response.text)
    except ValidationError as exc:
        raise Failed("language, duration, text and segments", str(exc)[:400], response) from None
    previous_start = 0.0
    for segment in verbose.segments:
        if not (previous_start <= segment.start <= segment.end):
            raise Failed(
                "segments in time order, each starting where or after the previous one starts",
                f"segment {segment.id}: {segment.start:.2f}-{segment.end:.2f} s after a start "
                f"at {previous_start:.2f} s",
                response,
            )
        previous_start = segment.start
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
    expect_status(bad_format, set(range(400, 500)), "for response_format=mp4")
    undecodable = _undecodable_answer(s)  # its status is OAI-10's; its body, when 4xx, is ours
    for response in (missing_file, bad_format, undecodable):
        if not 400 <= response.status_code < 500:
            continue
        problem = _envelope_problem(response)
        if problem:
            raise Failed(_ENVELOPE, problem, response)
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


def _clip_answer(s: Session, clip: ReferenceClip) -> httpx.Response:
    return s.memo(f"openai:json:{clip.name}", lambda: transcription(s, audio=clip.encoded("wav")))


@check("OAI-9")
def each_transcript_is_closest_to_its_own_clip(s: Session) -> Evidence:
    transcripts = {}
    for clip in transcription_clips():
        response = _clip_answer(s, clip)
        expect_status(response, {200}, f"for {clip.name}")
        body = expect_json_object(response)
        if not isinstance(body.get("text"), str):
            raise Blocked("OAI-1", f"no string text for {clip.name}")
        transcripts[clip.name] = (clip.text, str(body["text"]), response)
    return judging.expect_own_text_nearest(transcripts)


def _undecodable_answer(s: Session) -> httpx.Response:
    return s.memo(
        "openai:undecodable",
        lambda: transcription(s, audio=_NOT_AUDIO, filename="notes.wav"),
    )


@check("OAI-10")
def undecodable_upload_is_an_invalid_request(s: Session) -> Evidence:
    """OpenAI answers a file that is not audio 400 ``invalid_request_error``; its SDK raises
    that as ``BadRequestError``, while a 415 or 422 would be a bare ``APIStatusError``."""
    _hosted_by_provider(s)  # OAI-6 may have sent the request; the endpoint's status is noted here
    response = _undecodable_answer(s)
    expect_status(response, {400}, "for a file that is not audio")
    try:
        error = OpenAIErrorEnvelope.model_validate_json(response.text).error
    except ValidationError:
        raise Blocked(
            "OAI-6", "the answer to a file that is not audio is not the envelope"
        ) from None
    if error.type != "invalid_request_error":
        raise Failed('error.type "invalid_request_error"', repr(error.type), response)
    return Evidence({"type": error.type}, response)
