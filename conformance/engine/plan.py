"""The generations a run asks for, each named, so that checks share them instead of re-asking.

A real provider takes seconds per generation, so the suite is frugal: about 20 generate calls
for a provider that declares only English, each reused by every check that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from conformance.engine.corpus import LANGUAGE_SENTENCES, PLAIN_TEXTS, UNICODE_TEXT, long_text

__all__ = ["CONCURRENT_KEYS", "CORE_KEYS", "GenerationSpec", "language_spec", "long_spec", "spec"]

Reference = Literal["A", "B"]


@dataclass(frozen=True)
class GenerationSpec:
    key: str
    text: str
    reference: Reference = "A"
    language: str = "en"
    seed: int | None = 1234
    minimal: bool = False
    """Send only text and voice_prompt (GEN-3)."""

    def body(self, voice_prompt: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text, "voice_prompt": voice_prompt}
        if not self.minimal:
            body.update(language=self.language, seed=self.seed)
        return body


_PLAN: dict[str, GenerationSpec] = {
    s.key: s
    for s in (
        GenerationSpec("walk-A", PLAIN_TEXTS["walk"], "A", seed=1234),
        GenerationSpec("walk-A-again", PLAIN_TEXTS["walk"], "A", seed=1234),
        GenerationSpec("walk-B", PLAIN_TEXTS["walk"], "B", seed=1234),
        GenerationSpec("call-A", PLAIN_TEXTS["call"], "A", seed=4321),
        GenerationSpec("coffee-minimal", PLAIN_TEXTS["coffee"], "A", minimal=True),
        GenerationSpec("train-B", PLAIN_TEXTS["train"], "B", seed=99),
        GenerationSpec("unicode-A", UNICODE_TEXT, "A", seed=77),
    )
}

CORE_KEYS: tuple[str, ...] = (
    "walk-A",
    "walk-B",
    "call-A",
    "coffee-minimal",
    "train-B",
    "unicode-A",
)
"""The generations whose audio every AUD check and the judges evaluate."""

CONCURRENT_KEYS: tuple[str, ...] = ("walk-A", "call-A", "train-B", "unicode-A")
"""Distinct texts and seeds, replayed concurrently for CON-1."""


def spec(key: str) -> GenerationSpec:
    """The generation named ``key``: a planned one, ``lang-<code>`` or ``long-<characters>``."""
    if key in _PLAN:
        return _PLAN[key]
    kind, _, argument = key.partition("-")
    if kind == "lang" and argument:
        return language_spec(argument)
    if kind == "long" and argument.isdigit():
        return long_spec(int(argument))
    raise KeyError(f"no generation named {key!r}")


def language_spec(code: str) -> GenerationSpec:
    text = LANGUAGE_SENTENCES.get(code, LANGUAGE_SENTENCES["en"])
    return GenerationSpec(f"lang-{code}", text, "A", language=code, seed=11)


def long_spec(length: int) -> GenerationSpec:
    return GenerationSpec(f"long-{length}", long_text(length), "A", seed=5)
