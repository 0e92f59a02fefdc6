"""SPEC.md §7: the audio payload of every core generation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.checks import _judging as judging
from conformance.checks._schema import generate_errors
from conformance.engine.outcome import Blocked, Evidence, Failed
from conformance.engine.plan import CORE_KEYS
from conformance.engine.registry import check
from conformance.judges import analysis
from voicebox_api import (
    ALLOWED_DTYPES,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AudioCodecError,
    decode_audio,
    decode_base64,
)

if TYPE_CHECKING:
    import httpx

    from conformance.engine.session import Session

MAX_CLIPPED_FRACTION = 0.001
MAX_DC_OFFSET = 0.02
MAX_EDGE_SILENCE_S = 1.0


def _bodies(s: Session) -> Iterator[tuple[str, dict[str, Any], httpx.Response]]:
    """The 200 bodies of the core generations; blocked when none succeeded."""
    found = False
    for key in CORE_KEYS:
        generation = s.generation(key)
        if generation.response.status_code == 200 and isinstance(generation.body, dict):
            found = True
            yield key, generation.body, generation.response
    if not found:
        raise Blocked("GEN-1", "no /v1/generate request succeeded")


def _decodable(body: dict[str, Any]) -> bool:
    try:
        decode_audio(str(body.get("audio")), str(body.get("dtype")))
    except AudioCodecError:
        return False
    return True


@check("AUD-1")
def audio_is_standard_base64(s: Session) -> Evidence:
    for key, body, response in _bodies(s):
        audio = body.get("audio")
        if not isinstance(audio, str):
            raise Blocked("GEN-2", f"audio of {key!r} is not a string")
        try:
            decode_base64(audio)
        except AudioCodecError as exc:
            raise Failed(
                "standard padded base64 (RFC 4648 §4), no line breaks", f"{key}: {exc}", response
            ) from None
    return Evidence({"clips": len(CORE_KEYS)})


@check("AUD-2")
def dtype_is_allowed(s: Session) -> Evidence:
    seen = set()
    for key, body, response in _bodies(s):
        dtype = body.get("dtype")
        if not isinstance(dtype, str):
            raise Blocked("GEN-2", f"dtype of {key!r} is not a string")
        problems = generate_errors(body).get("AUD-2")
        if problems:
            raise Failed(f"dtype one of {', '.join(ALLOWED_DTYPES)}", f"{key}: {dtype!r}", response)
        seen.add(dtype)
    return Evidence({"dtypes": sorted(seen)})


@check("AUD-3")
def audio_is_whole_samples(s: Session) -> Evidence:
    for key, body, response in _bodies(s):
        try:
            raw = decode_base64(str(body.get("audio")))
        except AudioCodecError:
            raise Blocked("AUD-1", f"audio of {key!r} is not base64") from None
        dtype = body.get("dtype")
        if dtype not in ALLOWED_DTYPES:
            raise Blocked("AUD-2", f"dtype of {key!r} is not allowed")
        size = np.dtype(str(dtype)).itemsize
        if not raw or len(raw) % size:
            raise Failed(
                f"a non-zero multiple of {size} bytes ({dtype})",
                f"{key}: {len(raw)} bytes",
                response,
            )
    return Evidence({"clips": len(CORE_KEYS)})


@check("AUD-4")
def float_samples_are_finite_and_in_range(s: Session) -> Evidence:
    for key, body, response in _bodies(s):
        if str(body.get("dtype")) not in ("float32", "float64"):
            continue
        try:
            raw = decode_base64(str(body.get("audio")))
        except AudioCodecError:
            raise Blocked("AUD-1", f"audio of {key!r} is not base64") from None
        size = np.dtype(str(body["dtype"])).itemsize
        if not raw or len(raw) % size:
            raise Blocked("AUD-3", f"audio of {key!r} is not whole samples")
        samples = np.frombuffer(raw, dtype=np.dtype(str(body["dtype"])).newbyteorder("<"))
        bad = ~np.isfinite(samples) | (np.abs(np.nan_to_num(samples, nan=2.0)) > 1.0)
        if bad.any():
            index = int(np.argmax(bad))
            raise Failed(
                "finite samples within [-1.0, 1.0]",
                f"{key}: {int(bad.sum())} samples outside, first {samples[index]!r} "
                f"at index {index}",
                response,
            )
    return Evidence({"clips": len(CORE_KEYS)})


@check("AUD-5")
def sample_rate_is_in_range(s: Session) -> Evidence:
    rates = set()
    for key, body, response in _bodies(s):
        rate = body.get("sample_rate")
        if not isinstance(rate, int) or isinstance(rate, bool):
            raise Blocked("GEN-2", f"sample_rate of {key!r} is not an integer")
        if generate_errors(body).get("AUD-5"):
            raise Failed(
                f"an integer from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}",
                f"{key}: {rate!r}",
                response,
            )
        rates.add(rate)
    return Evidence({"sample_rates": sorted(rates)})


def _each_audio(s: Session) -> Iterator[tuple[str, httpx.Response]]:
    for key, body, response in _bodies(s):
        if not _decodable(body):
            s.audio(key)  # raises Blocked naming the AUD clause that owns the defect
        yield key, response


@check("AUD-6")
def sample_rate_is_the_true_rate(s: Session) -> Evidence:
    details = {}
    for key, response in _each_audio(s):
        assessment = judging.rate_assessment(s, key)
        details[key] = assessment.detail
        if not assessment.consistent:
            audio = s.audio(key)
            raise Failed(
                f"speech that sounds right at the declared {audio.sample_rate} Hz",
                f"{key}: judged by {assessment.method}, {assessment.detail}",
                response,
            )
    return Evidence({"assessments": details})


@check("AUD-7")
def audio_is_not_silent(s: Session) -> Evidence:
    levels = {}
    for key, response in _each_audio(s):
        audio = s.audio(key)
        level = analysis.loudest_window_dbfs(audio.as_float32(), audio.sample_rate)
        levels[key] = round(level, 1)
        if level < analysis.SILENCE_FLOOR_DBFS:
            raise Failed(
                f"loudest 50 ms window at least {analysis.SILENCE_FLOOR_DBFS:g} dBFS",
                f"{key}: {level:.1f} dBFS",
                response,
            )
    return Evidence({"loudest_window_dbfs": levels})


@check("AUD-8")
def audio_is_not_clipped(s: Session) -> Evidence:
    fractions = {}
    for key, response in _each_audio(s):
        fraction = analysis.clipped_fraction(s.audio(key).as_float32())
        fractions[key] = round(fraction, 5)
        if fraction >= MAX_CLIPPED_FRACTION:
            raise Failed(
                "fewer than 0.1 % of samples at full scale",
                f"{key}: {fraction:.2%} of samples at full scale",
                response,
            )
    return Evidence({"clipped_fraction": fractions})


@check("AUD-9")
def audio_has_no_dc_offset(s: Session) -> Evidence:
    offsets = {}
    for key, response in _each_audio(s):
        offset = analysis.dc_offset(s.audio(key).as_float32())
        offsets[key] = round(offset, 4)
        if abs(offset) > MAX_DC_OFFSET:
            raise Failed(f"mean within ±{MAX_DC_OFFSET}", f"{key}: mean {offset:+.4f}", response)
    return Evidence({"dc_offset": offsets})


@check("AUD-10")
def duration_is_plausible(s: Session) -> Evidence:
    durations = {}
    for key, response in _each_audio(s):
        judging.require_right_rate(s, key)
        audio, text = s.audio(key), s.generation(key).spec.text
        shortest, longest = analysis.duration_bounds(text)
        durations[key] = round(audio.duration_s, 2)
        if not shortest <= audio.duration_s <= longest:
            raise Failed(
                f"{shortest:.1f} to {longest:.1f} s for {len(text)} characters",
                f"{key}: {audio.duration_s:.2f} s",
                response,
            )
    return Evidence({"duration_s": durations})


@check("AUD-11")
def edge_silence_is_short(s: Session) -> Evidence:
    edges = {}
    for key, response in _each_audio(s):
        judging.require_sound(s, key)
        audio = s.audio(key)
        leading, trailing = analysis.edge_silence(audio.as_float32(), audio.sample_rate)
        edges[key] = [round(leading, 2), round(trailing, 2)]
        if max(leading, trailing) > MAX_EDGE_SILENCE_S:
            raise Failed(
                f"at most {MAX_EDGE_SILENCE_S:g} s of silence at each end",
                f"{key}: {leading:.2f} s leading, {trailing:.2f} s trailing",
                response,
            )
    return Evidence({"edge_silence_s": edges})
