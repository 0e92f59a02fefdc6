"""SPEC.md §5: POST /v1/create_voice_prompt."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import httpx
import numpy as np

from conformance.checks._expect import describe, expect_json_object, expect_status
from conformance.engine.outcome import Blocked, Evidence, Failed, Unimplemented
from conformance.engine.registry import check
from voicebox_api import MIN_UPLOAD_LIMIT_BYTES, AudioFormat, write_audio

if TYPE_CHECKING:
    from conformance.engine.session import Session

MAX_PROMPT_BYTES = 1024 * 1024
UNDECLARED_OVERSIZE_BYTES = 32 * 1024 * 1024
_REFUSED = {400, 415, 422}
_CONTENT_TYPES: dict[AudioFormat, str] = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
}


def _expect_prompt(response: httpx.Response) -> dict[str, object]:
    expect_status(response, {200})
    body = expect_json_object(response, content_type=False)
    prompt = body.get("voice_prompt")
    if not isinstance(prompt, dict):
        raise Failed(
            "a voice_prompt member that is a JSON object",
            f"voice_prompt is {type(prompt).__name__}",
            response,
        )
    return prompt


def _wav_of_size(s: Session, size: int) -> bytes:
    """Reference A tiled as 48 kHz stereo float32 WAV of about ``size`` bytes (27 s per 10 MiB)."""
    clip = s.reference("A")
    rate = 48_000
    positions = np.arange(0, len(clip.samples) * rate / clip.sample_rate) * clip.sample_rate / rate
    upsampled = np.interp(positions, np.arange(len(clip.samples)), clip.samples)
    frames = max(1, (size - 80) // 8)
    tiled = np.resize(upsampled.astype(np.float32), frames)
    stereo = np.stack([tiled, tiled], axis=1)
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, stereo, rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


@check("VP-1")
def wav_upload_is_answered_200_json(s: Session) -> Evidence:
    response = s.prompt_response("A")
    expect_status(response, {200})
    expect_json_object(response)
    return Evidence({"reference": s.reference("A").name}, response)


@check("VP-2")
def answer_holds_a_voice_prompt_object(s: Session) -> Evidence:
    response = s.prompt_response("A")
    if response.status_code != 200:
        raise Blocked("VP-1", f"create_voice_prompt answered {response.status_code}")
    prompt = _expect_prompt(response)
    return Evidence({"members": sorted(prompt)[:20]}, response)


@check("VP-3")
def prompt_survives_a_json_round_trip(s: Session) -> Evidence:
    generation = s.generation("walk-A")
    code = generation.response.status_code
    if 400 <= code < 500:
        raise Failed(
            "the round-tripped voice prompt accepted by /v1/generate",
            describe(generation.response),
            generation.response,
        )
    if code != 200:
        raise Blocked("GEN-1", f"/v1/generate answered {code}")
    return Evidence({"round_trips": 2}, generation.response)


@check("VP-4")
def flac_ogg_and_mp3_are_accepted(s: Session) -> Evidence:
    declared = s.capabilities().audio_formats
    formats: list[AudioFormat] = [
        f for f in ("flac", "ogg", "mp3") if declared is None or f in declared
    ]
    if not formats:
        raise Unimplemented("capabilities.audio_formats declares none of flac, ogg, mp3")
    clip = s.reference("A")
    for audio_format in formats:
        data = write_audio(clip.samples, clip.sample_rate, audio_format)
        response = s.upload_prompt(
            data, f"reference.{audio_format}", _CONTENT_TYPES[audio_format], clip.text
        )
        if response.status_code != 200:
            raise Failed(f"200 for a {audio_format.upper()} upload", describe(response), response)
    return Evidence({"formats": formats})


@check("VP-5")
def non_audio_upload_is_refused(s: Session) -> Evidence:
    wav = s.reference_wav("A")
    uploads = {
        "a text file": (b"This is not audio, it is a note.\n" * 20, "note.wav", "audio/wav"),
        "a PNG image": (b"\x89PNG\r\n\x1a\n" + bytes(200), "voice.wav", "audio/wav"),
        "a truncated WAV header": (wav[:30], "voice.wav", "audio/wav"),
        "an empty file": (b"", "voice.wav", "audio/wav"),
    }
    for name, (data, filename, content_type) in uploads.items():
        response = s.upload_prompt(data, filename, content_type, "hello")
        expect_status(response, _REFUSED, f"for {name}")
    return Evidence({"uploads": list(uploads)})


@check("VP-6")
def ten_mebibyte_upload_is_accepted(s: Session) -> Evidence:
    data = _wav_of_size(s, MIN_UPLOAD_LIMIT_BYTES - 4096)
    response = s.upload_prompt(data, "long-reference.wav", "audio/wav", s.reference("A").text)
    expect_status(response, {200}, f"for a {len(data) / 2**20:.2f} MiB WAV")
    return Evidence({"upload_bytes": len(data)}, response)


@check("VP-7")
def oversized_upload_is_413(s: Session) -> Evidence:
    limit = s.capabilities().max_upload_bytes
    size = limit + 1024 if limit else UNDECLARED_OVERSIZE_BYTES
    data = _wav_of_size(s, size)
    try:
        response = s.upload_prompt(data, "huge.wav", "audio/wav", "hello")
    except httpx.TransportError as exc:
        raise Failed(
            "413 for an upload over the limit",
            f"the connection broke during the upload ({type(exc).__name__}); "
            "answer 413 before closing",
        ) from None
    expect_status(
        response,
        {413},
        f"for {len(data) / 2**20:.1f} MiB "
        f"({'declared limit ' + str(limit) if limit else 'no declared limit'})",
    )
    return Evidence({"upload_bytes": len(data), "declared_limit": limit}, response)


@check("VP-8")
def filename_is_never_a_path(s: Session) -> Evidence:
    clip = s.reference("A")
    filename = f"../../voicebox-missing-{uuid.uuid4().hex[:12]}/x.wav"
    response = s.upload_prompt(s.reference_wav("A"), filename, "audio/wav", clip.text)
    expect_status(response, {200, 400, 422}, f"for filename {filename!r}")
    return Evidence({"filename": filename, "status": response.status_code}, response)


@check("VP-9")
def voice_prompt_is_at_most_one_mebibyte(s: Session) -> Evidence:
    prompt = s.voice_prompt("A")
    size = len(json.dumps(prompt, separators=(",", ":")).encode())
    if size > MAX_PROMPT_BYTES:
        raise Failed(
            "a voice prompt of at most 1 MiB of JSON",
            f"{size / 2**20:.2f} MiB",
            s.prompt_response("A"),
        )
    return Evidence({"prompt_bytes": size})
