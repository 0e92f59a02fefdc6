"""SPEC.md §14: streaming and binary answers of /v1/generate (v0.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import numpy as np
import numpy.typing as npt

from conformance.checks import _streams as streams
from conformance.checks._expect import describe, expect_status
from conformance.engine.outcome import Blocked, Evidence, Failed, Unimplemented
from conformance.engine.registry import check
from voicebox_api import (
    STREAM_MEDIA_TYPE,
    WAV_MEDIA_TYPE,
    ErrorBody,
    WavAnswerError,
    decode_wav,
)

if TYPE_CHECKING:
    from conformance.engine.session import Session

_UNKNOWN_TYPE = "application/x-voicebox-conformance-unknown"
_REAL_STREAM_FRACTION = 0.5
"""STR-7: the first audio must come before this fraction of the whole stream's time."""


@check("STR-1")
def stream_requests_are_answered_with_frames(s: Session) -> Evidence:
    parsed = streams.streamed(s)
    response = parsed.response
    expect_status(response, {200}, f"for Accept: {STREAM_MEDIA_TYPE}")
    if not streams.is_stream(response):
        raise Failed(f"Content-Type: {STREAM_MEDIA_TYPE}", describe(response), response)
    if parsed.defect is not None and parsed.defect.clause == "STR-1":
        raise Failed("complete frames of the four types", str(parsed.defect), response)
    return Evidence({"bytes": len(response.content), "frames": len(parsed.audio)}, response)


@check("STR-2")
def the_header_frame_names_rate_and_dtype_first(s: Session) -> Evidence:
    parsed = streams.streamed(s)
    streams.require_stream(parsed)
    parsed.require_no_defect_before("STR-2")
    if parsed.defect is not None and parsed.defect.clause == "STR-2":
        raise Failed("a header frame with sample_rate and dtype first", str(parsed.defect))
    assert parsed.header is not None
    header = parsed.header
    return Evidence({"sample_rate": header.sample_rate, "dtype": header.dtype}, parsed.response)


@check("STR-3")
def audio_frames_hold_whole_samples(s: Session) -> Evidence:
    parsed = streams.streamed(s)
    streams.require_stream(parsed)
    parsed.require_no_defect_before("STR-3")
    if parsed.defect is not None and parsed.defect.clause == "STR-3":
        raise Failed("audio frames of whole samples", str(parsed.defect), parsed.response)
    sizes = [len(frame) for frame in parsed.audio]
    return Evidence({"audio_frames": len(sizes), "largest": max(sizes, default=0)})


@check("STR-4")
def the_stream_ends_with_its_total(s: Session) -> Evidence:
    parsed = streams.streamed(s)
    streams.require_stream(parsed)
    parsed.require_no_defect_before("STR-4")
    if parsed.defect is not None and parsed.defect.clause == "STR-4":
        raise Failed("an end frame counting every sample", str(parsed.defect), parsed.response)
    if parsed.defect is not None:
        raise Blocked(parsed.defect.clause, str(parsed.defect))
    assert parsed.end is not None
    return Evidence({"total_samples": parsed.end.total_samples}, parsed.response)


@check("STR-5")
def refusals_keep_their_status_and_valid_streams_no_error_frame(s: Session) -> Evidence:
    streams.require_streaming(s)
    body = {**streams.seeded_body(s), "text": "   "}
    as_json = s.send("POST", "/v1/generate", json=body)
    if not 400 <= as_json.status_code < 500:
        raise Blocked("GEN-4", f"a blank text is answered {as_json.status_code} without streaming")
    refused = s.send("POST", "/v1/generate", json=body, headers={"Accept": STREAM_MEDIA_TYPE})
    if not 400 <= refused.status_code < 500:
        raise Failed("a 4xx status for a blank text, as without streaming", describe(refused))
    if not _is_error_body(refused):
        if not _is_error_body(as_json):
            raise Blocked(
                "ERR-1", "error bodies do not have the shape of §3 even without streaming"
            )
        raise Failed("the error body of §3", describe(refused), refused)
    parsed = streams.streamed(s)
    streams.require_stream(parsed)
    parsed.require_no_defect_before("STR-5")
    if parsed.defect is not None and parsed.defect.clause == "STR-5":
        raise Failed("no error frame for a valid request", str(parsed.defect), parsed.response)
    return Evidence({"blank_text_status": refused.status_code}, refused)


def _is_error_body(response: httpx.Response) -> bool:
    try:
        ErrorBody.model_validate_json(response.content)
    except ValueError:
        return False
    return True


@check("STR-6")
def a_seeded_stream_is_the_whole_clip(s: Session) -> Evidence:
    if s.capabilities().deterministic_seed is False:
        raise Unimplemented("capabilities.deterministic_seed is false")
    parsed = streams.streamed(s)
    streams.require_stream(parsed)
    if parsed.defect is not None:
        raise Blocked(parsed.defect.clause, str(parsed.defect))
    whole = streams.reproducible_clip(s)
    assert parsed.header is not None
    header = parsed.header
    if (header.sample_rate, header.dtype) != (whole.sample_rate, whole.dtype):
        raise Failed(
            f"{whole.dtype} at {whole.sample_rate} Hz, as the JSON answer",
            f"{header.dtype} at {header.sample_rate} Hz",
            parsed.response,
        )
    samples = parsed.samples
    if samples.tobytes() != whole.samples.tobytes():
        differing = _first_difference(samples, whole.samples)
        raise Failed(
            "exactly the samples of the JSON answer",
            f"{samples.size} samples against {whole.num_samples}, first difference at {differing}",
            parsed.response,
        )
    return Evidence({"samples": int(samples.size)}, parsed.response)


@check("STR-7")
def the_first_audio_comes_well_before_the_last(s: Session) -> Evidence:
    timed = streams.timed_stream(s)
    fraction = timed.first_audio_s / timed.total_s
    facts = {
        "first_audio_ms": round(timed.first_audio_s * 1000, 1),
        "total_ms": round(timed.total_s * 1000, 1),
        "fraction": round(fraction, 3),
    }
    if fraction > _REAL_STREAM_FRACTION:
        raise Failed(
            f"the first audio before {_REAL_STREAM_FRACTION:.0%} of the stream's time",
            f"first audio after {facts['first_audio_ms']} ms of {facts['total_ms']} ms "
            "(the whole clip made first, then sent?)",
        )
    return Evidence(facts)


@check("STR-8")
def streams_tell_proxies_not_to_buffer(s: Session) -> Evidence:
    response = streams.stream_response(s)
    if not streams.is_stream(response):
        raise Blocked("STR-1", f"the stream request was answered {describe(response)}")
    if response.headers.get("x-accel-buffering", "").lower() != "no":
        raise Failed("X-Accel-Buffering: no", "no such header", response)
    if "content-length" in response.headers:
        raise Failed("no Content-Length", f"Content-Length: {response.headers['content-length']}")
    return Evidence({"transfer_encoding": response.headers.get("transfer-encoding")}, response)


@check("STR-9")
def unacceptable_types_are_answered_406(s: Session) -> Evidence:
    s.require_generation_works()
    probes = [_UNKNOWN_TYPE]
    if s.capabilities().streaming is not True:
        probes.append(STREAM_MEDIA_TYPE)
    for accept in probes:
        response = s.send(
            "POST", "/v1/generate", json=streams.seeded_body(s), headers={"Accept": accept}
        )
        expect_status(response, {406}, f"for Accept: {accept}")
        try:
            ErrorBody.model_validate_json(response.content)
        except ValueError:
            raise Failed("the error body of §3", describe(response), response) from None
    return Evidence({"accept": probes})


@check("BIN-1")
def the_wav_answer_is_the_json_answer(s: Session) -> Evidence:
    response = streams.wav_response(s)
    expect_status(response, {200}, f"for Accept: {WAV_MEDIA_TYPE}")
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != WAV_MEDIA_TYPE:
        raise Failed(f"Content-Type: {WAV_MEDIA_TYPE}", describe(response), response)
    try:
        wav = decode_wav(response.content)
    except WavAnswerError as exc:
        raise Failed("a mono WAV file", str(exc), response) from None
    whole = s.audio(streams.SEEDED_KEY)
    if s.capabilities().deterministic_seed is not False:
        whole = streams.reproducible_clip(s)
    if (wav.sample_rate, wav.dtype) != (whole.sample_rate, whole.dtype):
        raise Failed(
            f"{whole.dtype} at {whole.sample_rate} Hz, as the JSON answer",
            f"{wav.dtype} at {wav.sample_rate} Hz",
            response,
        )
    exact = wav.samples.tobytes() == whole.samples.tobytes()
    if s.capabilities().deterministic_seed is not False and not exact:
        raise Failed("exactly the samples of the JSON answer", "different samples", response)
    return Evidence({"bytes": len(response.content), "exact": exact}, response)


def _first_difference(first: npt.NDArray[np.generic], second: npt.NDArray[np.generic]) -> int:
    a, b = np.asarray(first), np.asarray(second)
    length = min(a.size, b.size)
    unequal = np.flatnonzero(a[:length] != b[:length])
    return int(unequal[0]) if unequal.size else length
