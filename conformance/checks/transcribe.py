"""SPEC.md §11: POST /v1/transcribe, the self-hosted Whisper server (WHISPER_MODE=remote)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from conformance.checks import _judging as judging
from conformance.checks._expect import expect_json_object, expect_status, strict_json
from conformance.checks._probe import serves_undeclared
from conformance.checks.languages import UNASSIGNED_CODE
from conformance.engine.outcome import Blocked, Evidence, Failed, NotApplicable, Unimplemented
from conformance.engine.references import ReferenceClip, transcription_clips
from conformance.engine.registry import check

if TYPE_CHECKING:
    from conformance.engine.session import Session

MAX_TRANSCRIPTION_CER = 0.20
_REFUSED = {400, 415, 422}


def require_transcribe(s: Session) -> None:
    """Run TRN-* only against a server that has /v1/transcribe, or say how to point at one."""
    if s.options.whisper_mode == "openai-api":
        raise NotApplicable(
            "--whisper-mode openai-api checks /v1/audio/transcriptions (OAI-*)",
            "use --whisper-mode remote with --whisper-url",
        )
    if s.options.whisper_url:
        return
    declared = s.capabilities().transcribe
    if declared is False:
        raise Unimplemented("capabilities.transcribe is false")
    if declared is None and not serves_undeclared(s, "/v1/transcribe", auth="key"):
        raise NotApplicable(
            "no Whisper server given and the provider declares no /v1/transcribe",
            "pass --whisper-url URL (or WHISPER_REMOTE_URL), or declare capabilities.transcribe",
        )


def _transcribe(
    s: Session, data: bytes, filename: str = "clip.wav", **fields: Any
) -> httpx.Response:
    return s.send(
        "POST",
        "/v1/transcribe",
        target="whisper",
        retry=True,
        files={"audio": (filename, data, "audio/wav")},
        data=fields or None,
    )


def _first_clip() -> ReferenceClip:
    return transcription_clips()[0]


def _expect_text(response: httpx.Response) -> str:
    """TRN-1's requirement: 200 with a JSON object whose text is a string."""
    expect_status(response, {200})
    body = expect_json_object(response)
    if not isinstance(body.get("text"), str):
        raise Failed("a JSON object with a string member text", repr(body)[:200], response)
    return str(body["text"])


def _text_of(response: httpx.Response) -> str:
    """The transcript of a 200 answer, for checks that do not own its shape."""
    try:
        body = strict_json(response.text)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise Blocked("TRN-1", "the answer is not a JSON object with a string text")
    return str(body["text"])


@check("TRN-1")
def wav_is_transcribed_to_text(s: Session) -> Evidence:
    require_transcribe(s)
    clip = _first_clip()
    response = s.memo("transcribe:first", lambda: _transcribe(s, clip.encoded("wav")))
    heard = _expect_text(response)
    return Evidence({"clip": clip.name, "text": heard}, response)


def _clip_answer(s: Session, clip: ReferenceClip) -> httpx.Response:
    """Each bundled clip transcribed once per run, for TRN-2 and TRN-6."""
    return s.memo(f"transcribe:clip:{clip.name}", lambda: _transcribe(s, clip.encoded("wav")))


def _heard_by_clip(s: Session) -> dict[str, tuple[ReferenceClip, httpx.Response, str]]:
    heard = {}
    for clip in transcription_clips():
        response = _clip_answer(s, clip)
        expect_status(response, {200}, f"for {clip.name}")
        heard[clip.name] = (clip, response, _text_of(response))
    return heard


@check("TRN-2")
def bundled_clips_are_transcribed_accurately(s: Session) -> Evidence:
    require_transcribe(s)
    rates = {}
    for clip, response, heard in _heard_by_clip(s).values():
        rate = judging.cer(clip.text, heard)
        rates[clip.name] = round(rate, 3)
        if rate > MAX_TRANSCRIPTION_CER:
            raise Failed(
                f"CER at most {MAX_TRANSCRIPTION_CER:.2f} against {clip.text!r}",
                f"CER {rate:.2f}: {heard!r}",
                response,
            )
    return Evidence({"cer": rates})


@check("TRN-6")
def each_transcript_is_closest_to_its_own_clip(s: Session) -> Evidence:
    require_transcribe(s)
    heard = _heard_by_clip(s)
    return judging.expect_own_text_nearest(
        {name: (clip.text, text, response) for name, (clip, response, text) in heard.items()}
    )


@check("TRN-3")
def language_field_is_accepted(s: Session) -> Evidence:
    require_transcribe(s)
    response = _transcribe(s, _first_clip().encoded("wav"), language="en")
    expect_status(response, {200}, "with language=en")
    heard = _text_of(response)
    return Evidence({"language": "en", "text": heard}, response)


@check("TRN-4")
def unsupported_language_is_refused(s: Session) -> Evidence:
    require_transcribe(s)
    response = _transcribe(s, _first_clip().encoded("wav"), language=UNASSIGNED_CODE)
    expect_status(response, {400, 422}, f"for language {UNASSIGNED_CODE!r}")
    return Evidence({"language": UNASSIGNED_CODE}, response)


@check("TRN-5")
def non_audio_is_refused(s: Session) -> Evidence:
    require_transcribe(s)
    response = _transcribe(s, b"This is a text file, not audio.\n" * 10, "notes.wav")
    expect_status(response, _REFUSED, "for a text file")
    return Evidence({}, response)
