"""SPEC.md §15: POST /v1/audio/speech, OpenAI-compatible, with vLLM-Omni's cloning extension."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import httpx
import numpy as np
from pydantic import ValidationError

from conformance.checks import _judging as judging
from conformance.checks import _speech as sp
from conformance.checks._expect import describe, expect_status
from conformance.engine.outcome import Blocked, Evidence, Failed, NotApplicable
from conformance.engine.registry import check
from conformance.judges import analysis
from voicebox_api import (
    SPEECH_FORMATS,
    OpenAIErrorEnvelope,
    SpeechAudioDeltaEvent,
    SpeechAudioDoneEvent,
)

if TYPE_CHECKING:
    from conformance.engine.session import Session

PCM_DURATION_TOLERANCE: Final = 0.25
FAST_SPEED_RATIO: Final = 0.75
STEERING_MARGIN: Final = 0.05
MEDIA_TYPES: Final = {
    "mp3": {"audio/mpeg", "audio/mp3"},
    "opus": {"audio/ogg", "audio/opus"},
    "aac": {"audio/aac"},
    "flac": {"audio/flac", "audio/x-flac"},
    "wav": {"audio/wav", "audio/x-wav", "audio/wave"},
    "pcm": {"audio/pcm", "application/octet-stream", "audio/l16"},
}
BAD_BODIES: Final[dict[str, dict[str, Any]]] = {
    "empty input": {"input": ""},
    "unknown voice": {"voice": "no-such-voice-7f3a"},
    "unsupported response_format": {"response_format": "ogg"},
    "speed 4.5": {"speed": 4.5},
    "speed 0.1": {"speed": 0.1},
}


def _wav(s: Session) -> sp.SpeechAudio:
    """The WAV answer SPEECH-1 owns; the other checks compare with it."""
    response = sp.formatted(s, "wav")
    if response.status_code != 200:
        raise Blocked("SPEECH-1", f"response_format=wav was answered {response.status_code}")
    try:
        return sp.decode(response.content)
    except sp.UndecodableSpeech as exc:
        raise Blocked("SPEECH-1", f"the WAV answer does not decode: {exc}") from None


def _require_sound(audio: sp.SpeechAudio, what: str, response: httpx.Response) -> float:
    level = analysis.loudest_window_dbfs(audio.samples, audio.sample_rate)
    if level < analysis.SILENCE_FLOOR_DBFS:
        raise Failed(
            f"audio louder than {analysis.SILENCE_FLOOR_DBFS:g} dBFS",
            f"{what}: {level:.1f}",
            response,
        )
    return level


@check("SPEECH-1")
def wav_speech_is_answered(s: Session) -> Evidence:
    response = sp.formatted(s, "wav")
    expect_status(response, {200}, "for model, input, voice and response_format=wav")
    try:
        audio = sp.decode(response.content)
    except sp.UndecodableSpeech as exc:
        raise Failed("a WAV file", f"undecodable: {exc}", response) from None
    if audio.container != "wav":
        raise Failed("a WAV file", f"a {audio.container} file", response)
    level = _require_sound(audio, "wav", response)
    return Evidence({"duration_s": round(audio.duration_s, 2), "dbfs": round(level, 1)}, response)


@check("SPEECH-2")
def mp3_is_the_default(s: Session) -> Evidence:
    response = sp.answer(s, "default")
    expect_status(response, {200}, "without response_format")
    try:
        container = sp.decode(response.content).container
    except sp.UndecodableSpeech as exc:
        raise Failed("an MP3 file", f"undecodable: {exc}", response) from None
    if "mp3" not in container.split(","):
        raise Failed("an MP3 file (OpenAI's default)", f"a {container} file", response)
    return Evidence({"container": container}, response)


@check("SPEECH-3")
def each_format_holds_its_audio(s: Session) -> Evidence:
    seen = {}
    for fmt, demuxer in sp.CONTAINERS.items():
        response = sp.formatted(s, fmt)
        if fmt == "wav" or response.status_code != 200:  # SPEECH-1 owns the WAV
            continue
        try:
            audio = sp.decode(response.content)
        except sp.UndecodableSpeech as exc:
            raise Failed(f"a {fmt} file", f"undecodable: {exc}", response) from None
        if demuxer not in audio.container.split(","):
            raise Failed(f"a {fmt} file", f"a {audio.container} file", response)
        _require_sound(audio, fmt, response)
        seen[fmt] = round(audio.duration_s, 2)
    if not seen:
        raise Blocked("SPEECH-4", "no encoded format was answered 200")
    return Evidence({"duration_s": seen})


@check("SPEECH-4")
def all_six_formats_are_supported(s: Session) -> Evidence:
    statuses = {fmt: sp.formatted(s, fmt).status_code for fmt in SPEECH_FORMATS}
    missing = {fmt: code for fmt, code in statuses.items() if code != 200}
    if missing:
        first = next(iter(missing))
        raise Failed("200 for all six formats", f"{missing}", sp.formatted(s, first))
    return Evidence({"statuses": statuses})


def _pcm_matches_wav(s: Session, name: str, **fields: Any) -> dict[str, float]:
    response = sp.answer(s, name, **fields)
    expect_status(response, {200}, f"for {fields}")
    try:
        audio = sp.pcm(response.content)
    except sp.UndecodableSpeech as exc:
        raise Failed("s16le mono PCM", str(exc), response) from None
    _require_sound(audio, name, response)
    wav = _wav(s)
    ratio = audio.duration_s / wav.duration_s
    if abs(ratio - 1.0) > PCM_DURATION_TOLERANCE:
        raise Failed(
            f"as long at 24 kHz as the WAV ({wav.duration_s:.2f} s), within 25 %",
            f"{audio.duration_s:.2f} s (ratio {ratio:.2f}: another rate or sample type?)",
            response,
        )
    return {"pcm_s": round(audio.duration_s, 2), "wav_s": round(wav.duration_s, 2)}


@check("SPEECH-5")
def pcm_is_24k_s16le_mono(s: Session) -> Evidence:
    return Evidence(_pcm_matches_wav(s, "format-pcm", response_format="pcm"))


@check("SPEECH-6")
def content_type_names_the_format(s: Session) -> Evidence:
    types = {}
    for fmt in SPEECH_FORMATS:
        response = sp.formatted(s, fmt)
        if response.status_code != 200:
            continue
        types[fmt] = sp.media_type(response)
        if types[fmt] not in MEDIA_TYPES[fmt]:
            raise Failed(f"Content-Type one of {sorted(MEDIA_TYPES[fmt])}", types[fmt], response)
    return Evidence({"content_types": types})


@check("SPEECH-7")
def audio_meets_the_quality_limits(s: Session) -> Evidence:
    audio, response = _wav(s), sp.formatted(s, "wav")
    clipped = analysis.clipped_fraction(audio.samples)
    offset = analysis.dc_offset(audio.samples)
    shortest, longest = analysis.duration_bounds(sp.TEXT)
    leading, trailing = analysis.edge_silence(audio.samples, audio.sample_rate)
    problems = [
        f"{clipped:.2%} clipped" if clipped >= 0.001 else "",
        f"DC offset {offset:+.3f}" if abs(offset) > 0.02 else "",
        f"{audio.duration_s:.2f} s" if not shortest <= audio.duration_s <= longest else "",
        f"edge silence {leading:.2f}/{trailing:.2f} s" if max(leading, trailing) > 1.0 else "",
    ]
    if any(problems):
        raise Failed("§7's limits (AUD-8 to AUD-11)", "; ".join(p for p in problems if p), response)
    return Evidence(
        {"clipped": clipped, "dc": round(offset, 4), "duration_s": round(audio.duration_s, 2)}
    )


@check("SPEECH-8")
def speed_two_is_faster(s: Session) -> Evidence:
    normal = _wav(s)
    fast = sp.decoded(s, "speed-2", "wav", response_format="wav", speed=2.0)
    ratio = fast.duration_s / normal.duration_s
    if ratio > FAST_SPEED_RATIO:
        raise Failed(
            f"at most {FAST_SPEED_RATIO} times the {normal.duration_s:.2f} s of speed 1.0",
            f"{fast.duration_s:.2f} s (ratio {ratio:.2f})",
            sp.answer(s, "speed-2"),
        )
    return Evidence({"ratio": round(ratio, 2)})


@check("SPEECH-9")
def transcripts_match_their_inputs(s: Session) -> Evidence:
    judge = s.asr_judge()
    clips = {
        sp.TEXT: _wav(s),
        sp.OTHER_TEXT: sp.decoded(
            s, "other-wav", "wav", response_format="wav", input=sp.OTHER_TEXT
        ),
    }
    heard = {
        text: judging.judge_transcribe(judge, audio.samples, audio.sample_rate)
        for text, audio in clips.items()
    }
    for text, transcript in heard.items():
        (other,) = set(clips) - {text}
        if judging.cer(text, transcript) >= judging.cer(other, transcript):
            raise Failed(f"a transcript closer to {text!r}", f"heard {transcript!r}")
    return Evidence({"judge": judge.name, "heard": list(heard.values())})


def _bad_answers(s: Session) -> dict[str, httpx.Response]:
    return s.memo(
        "speech:bad",
        lambda: {what: sp.speech(s, retry=False, **body) for what, body in BAD_BODIES.items()},
    )


@check("SPEECH-10")
def bad_input_is_a_client_error(s: Session) -> Evidence:
    answers = _bad_answers(s)
    for what, response in answers.items():
        if not 400 <= response.status_code < 500:
            raise Failed(f"a 4xx status for {what}", describe(response), response)
    return Evidence({what: r.status_code for what, r in answers.items()})


@check("SPEECH-11")
def bad_input_is_400_in_the_envelope(s: Session) -> Evidence:
    answers = _bad_answers(s)
    for what, response in answers.items():
        allowed = {400, 404} if what == "unknown voice" else {400}
        expect_status(response, allowed, f"for {what}")
        try:
            OpenAIErrorEnvelope.model_validate_json(response.content)
        except ValidationError:
            raise Failed(
                '{"error": {"message", "type", "param", "code"}}', describe(response), response
            ) from None
    return Evidence({what: r.status_code for what, r in answers.items()})


@check("SPEECH-12")
def bearer_key_is_required(s: Session) -> Evidence:
    if not sp.key_given(s):
        raise NotApplicable(
            "no key given for the speech endpoint", "pass --provider-api-key or --speech-api-key"
        )
    for auth in ("none", "wrong"):
        response = sp.speech(s, auth=auth, retry=False)
        expect_status(response, {401}, f"with {'no' if auth == 'none' else 'a wrong'} key")
    return Evidence({"checked": ["no key", "wrong key"]})


def _events(response: httpx.Response) -> list[Any]:
    events = []
    for line in response.text.splitlines():
        if line.startswith("data:"):
            data = line[len("data:") :].strip()
            if data and data != "[DONE]":
                events.append(json.loads(data))
    return events


@check("SPEECH-13")
def sse_streams_delta_and_done_events(s: Session) -> Evidence:
    response = sp.answer(s, "sse", response_format="wav", stream_format="sse")
    expect_status(response, {200}, "for stream_format=sse")
    if sp.media_type(response) != "text/event-stream":
        raise Failed("Content-Type: text/event-stream", describe(response), response)
    try:
        events = _events(response)
        deltas = [SpeechAudioDeltaEvent.model_validate(e) for e in events[:-1]]
        SpeechAudioDoneEvent.model_validate(events[-1] if events else {})
    except (ValueError, ValidationError) as exc:
        raise Failed(
            "speech.audio.delta events, then speech.audio.done", str(exc)[:300], response
        ) from None
    try:
        audio = sp.decode(b"".join(sp.b64(d.audio) for d in deltas))
    except sp.UndecodableSpeech as exc:
        raise Failed("deltas that join to a WAV file", str(exc), response) from None
    _require_sound(audio, "sse", response)
    return Evidence({"deltas": len(deltas), "duration_s": round(audio.duration_s, 2)}, response)


@check("SPEECH-14")
def instructions_are_accepted(s: Session) -> Evidence:
    response = sp.answer(
        s, "instructions", response_format="wav", instructions="Speak calmly and clearly."
    )
    expect_status(response, {200}, "with instructions")
    return Evidence({}, response)


@check("SPEECH-15")
def stream_true_streams_pcm(s: Session) -> Evidence:
    facts = _pcm_matches_wav(s, "stream", response_format="pcm", stream=True, stream_format="audio")
    refused = sp.speech(s, retry=False, response_format="mp3", stream=True, stream_format="audio")
    expect_status(refused, {400}, "for stream=true with response_format=mp3")
    return Evidence(facts)


def _cloned(s: Session, which: str) -> sp.SpeechAudio:
    clip = s.reference(which)
    fields = {"response_format": "wav", "ref_audio": sp.data_url(s.reference_wav(which))}
    response = sp.answer(s, f"clone-{which}", ref_text=clip.text, task_type="Base", **fields)
    if 400 <= response.status_code < 500:
        raise NotApplicable(
            f"the server refused ref_audio with {response.status_code}: it lacks the extension"
        )
    return sp.decoded(s, f"clone-{which}", "wav")


@check("SPEECH-16")
def ref_audio_steers_the_voice(s: Session) -> Evidence:
    judge = s.speaker_judge()
    outputs = {w: judge.embed(_cloned(s, w).samples, _cloned(s, w).sample_rate) for w in "AB"}
    refs = {w: judging.reference_embedding(s, w) for w in "AB"}
    sim = {f"out_{o}~ref_{r}": _cosine(outputs[o], refs[r]) for o in "AB" for r in "AB"}
    margin = (sim["out_A~ref_A"] - sim["out_A~ref_B"]) - (sim["out_B~ref_A"] - sim["out_B~ref_B"])
    facts = {k: round(v, 3) for k, v in sim.items()} | {"margin": round(margin, 3)}
    if margin < STEERING_MARGIN:
        raise Failed(
            f"steering margin at least {STEERING_MARGIN}", f"margin {margin:.3f}", None, **facts
        )
    return Evidence(facts)


def _cosine(a: Any, b: Any) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


_MAX_PROBE_BYTES: Final = 64 * 1024 * 1024


@check("SPEECH-17")
def oversize_ref_audio_is_413(s: Session) -> Evidence:
    limit = None if s.options.speech_url else s.capabilities().max_upload_bytes
    if limit is None or limit > _MAX_PROBE_BYTES:
        raise NotApplicable("the server declares no max_upload_bytes the suite can exceed")
    _cloned(s, "A")  # a server without the extension is not judged on its limits
    response = sp.speech(s, retry=False, ref_audio=sp.data_url(bytes(limit + 1)), ref_text="x")
    expect_status(response, {413}, f"for a ref_audio of {limit + 1} bytes")
    return Evidence({"limit": limit}, response)


@contextmanager
def _listener() -> Iterator[tuple[int, list[str]]]:
    """A loopback port that records (and drops) every connection made to it."""
    seen: list[str] = []
    stop = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, address = server.accept()
            except OSError:
                continue
            seen.append(f"{address[0]}:{address[1]}")
            connection.close()

    thread = threading.Thread(target=accept, name="ssrf-listener", daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


@check("SPEECH-18")
def url_ref_audio_is_refused_unfetched(s: Session) -> Evidence:
    with _listener() as (port, connections):
        for url in (f"http://127.0.0.1:{port}/voice.wav", "file:///etc/hostname"):
            response = sp.speech(s, retry=False, timeout=30.0, ref_audio=url, ref_text="x")
            expect_status(response, {400}, f"for ref_audio {url}")
    if connections:
        raise Failed("no connection to the ref_audio URL", f"the server connected {connections}")
    return Evidence({"refused": ["http", "file"]})
