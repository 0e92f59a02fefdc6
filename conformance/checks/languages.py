"""SPEC.md §8: languages as ISO 639-1 codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.checks import _judging as judging
from conformance.checks._expect import describe, expect_status
from conformance.engine.outcome import Evidence, Failed
from conformance.engine.plan import language_spec
from conformance.engine.registry import check

if TYPE_CHECKING:
    from conformance.engine.session import Session

UNASSIGNED_CODE = "qq"
"""Well-formed ISO 639-1 syntax, assigned to no language."""


@check("LANG-1")
def declared_languages_yield_audio(s: Session) -> Evidence:
    codes = ["en", *sorted(set(s.declared_languages()) - {"en"})]
    s.require_generation_works()
    for code in codes:
        key = language_spec(code).key
        generation = s.generation(key)
        if generation.response.status_code != 200:
            raise Failed(
                f"200 with audio for language {code!r}",
                describe(generation.response),
                generation.response,
            )
        s.audio(key)
        judging.require_sound(s, key)
    return Evidence({"languages": codes})


@check("LANG-2")
def unsupported_language_is_refused(s: Session) -> Evidence:
    body = {
        "text": "Hello there.",
        "voice_prompt": s.voice_prompt("A"),
        "language": UNASSIGNED_CODE,
        "seed": 1,
    }
    response = s.send("POST", "/v1/generate", json=body)
    expect_status(response, {400, 422}, f"for language {UNASSIGNED_CODE!r}")
    return Evidence({"language": UNASSIGNED_CODE}, response)
