"""Where one sentence ends and the next begins, for backends that stream sentence by sentence
(SPEC.md §14, ``stream_granularity: "sentence"``)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["split_sentences"]

_SENTENCE_END: Final = re.compile(r"(?<=[.!?;\u3002\uff01\uff1f])\s+")
"""Terminal punctuation (Latin and CJK), then white space."""


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, each ending with its punctuation; never an empty list."""
    sentences = [part for part in _SENTENCE_END.split(text) if part.strip()]
    return sentences or [text]
