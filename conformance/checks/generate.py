"""SPEC.md §6: POST /v1/generate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from conformance.checks import _judging as judging
from conformance.checks._expect import describe, expect_json_object, expect_status
from conformance.checks._schema import generate_errors
from conformance.engine.outcome import Blocked, Evidence, Failed, NotApplicable, Unimplemented
from conformance.engine.plan import long_spec
from conformance.engine.registry import check
from voicebox_api import DEFAULT_MAX_TEXT_LENGTH

if TYPE_CHECKING:
    from conformance.engine.session import Session

_REFUSED = {400, 422}


@check("GEN-1")
def full_body_is_answered_200_json(s: Session) -> Evidence:
    generation = s.generation("walk-A")
    if 400 <= generation.response.status_code < 500:
        raise Blocked("VP-3", f"/v1/generate refused the request: {describe(generation.response)}")
    expect_status(generation.response, {200})
    expect_json_object(generation.response)
    return Evidence({"text": generation.spec.text}, generation.response)


@check("GEN-2")
def answer_has_audio_sample_rate_and_dtype(s: Session) -> Evidence:
    generation = s.generated("walk-A")
    body = expect_json_object(generation.response, content_type=False)
    problems = generate_errors(body).get("GEN-2")
    if problems:
        raise Failed(
            "members audio (string), sample_rate (integer) and dtype (string)",
            "; ".join(problems),
            generation.response,
        )
    return Evidence(
        {"sample_rate": body["sample_rate"], "dtype": body["dtype"]}, generation.response
    )


@check("GEN-3")
def language_and_seed_are_optional(s: Session) -> Evidence:
    s.require_generation_works()
    generation = s.generation("coffee-minimal")
    expect_status(generation.response, {200}, "for a body with only text and voice_prompt")
    return Evidence({"members_sent": ["text", "voice_prompt"]}, generation.response)


@check("GEN-4")
def empty_text_is_refused(s: Session) -> Evidence:
    prompt = s.voice_prompt("A")
    for text in ("", "   \n\t"):
        response = s.send("POST", "/v1/generate", json={"text": text, "voice_prompt": prompt})
        expect_status(response, _REFUSED, f"for text {text!r}")
    return Evidence({"texts": ["", "whitespace only"]})


@check("GEN-5")
def text_up_to_the_limit_is_accepted(s: Session) -> Evidence:
    limit = s.capabilities().max_text_length or DEFAULT_MAX_TEXT_LENGTH
    s.require_generation_works()
    generation = s.generation(long_spec(limit).key)
    expect_status(generation.response, {200}, f"for a text of {limit} characters")
    return Evidence({"characters": limit}, generation.response)


@check("GEN-6")
def text_over_the_limit_is_refused(s: Session) -> Evidence:
    limit = s.capabilities().max_text_length
    if limit is None:
        raise NotApplicable(
            "the provider declares no max_text_length",
            "declare capabilities.max_text_length in /health",
        )
    body = {"text": long_spec(limit + 1).text + " Extra.", "voice_prompt": s.voice_prompt("A")}
    response = s.send("POST", "/v1/generate", json=body)
    expect_status(response, {413, 422}, f"for a text of {len(body['text'])} > {limit} characters")
    return Evidence({"characters": len(body["text"]), "limit": limit}, response)


@check("GEN-7")
def unicode_text_is_spoken(s: Session) -> Evidence:
    s.require_generation_works()
    generation = s.generation("unicode-A")
    expect_status(generation.response, {200}, "for a text with non-ASCII letters and symbols")
    audio = s.audio("unicode-A")
    judging.require_sound(s, "unicode-A")
    return Evidence(
        {"text": generation.spec.text, "duration_s": round(audio.duration_s, 2)},
        generation.response,
    )


@check("GEN-8")
def same_seed_gives_identical_audio(s: Session) -> Evidence:
    if s.capabilities().deterministic_seed is False:
        raise Unimplemented("capabilities.deterministic_seed is false")
    first, second = s.audio("walk-A"), s.audio("walk-A-again")
    again = s.generated("walk-A-again").response
    if first.dtype != second.dtype or first.sample_rate != second.sample_rate:
        raise Failed(
            "identical dtype and sample_rate",
            f"{first.dtype}@{first.sample_rate} vs {second.dtype}@{second.sample_rate}",
            again,
        )
    if first.samples.tobytes() != second.samples.tobytes():
        raise Failed(
            "bit-identical audio for the same seed",
            _difference(first.samples, second.samples),
            again,
        )
    return Evidence({"seed": s.generated("walk-A").spec.seed, "samples": first.num_samples}, again)


def _difference(a: np.ndarray, b: np.ndarray) -> str:
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} samples"
    differing = np.flatnonzero(a != b)
    return f"{len(differing)} of {len(a)} samples differ (first at index {differing[0]})"
