"""``language`` on the speech endpoint: vLLM-Omni's names (``English``, ``Auto``) or ISO codes."""

from __future__ import annotations

from typing import Final

__all__ = ["language_code"]

_NAMES: Final = {
    "chinese": "zh",
    "english": "en",
    "japanese": "ja",
    "korean": "ko",
    "german": "de",
    "french": "fr",
    "russian": "ru",
    "portuguese": "pt",
    "spanish": "es",
    "italian": "it",
}


def language_code(language: str | None) -> str | None:
    """The ISO 639-1 code, ``en`` for absent or ``Auto``; None when it names no language."""
    if language is None or language.strip().lower() in ("", "auto"):
        return "en"
    value = language.strip().lower()
    if len(value) == 2 and value.isalpha():
        return value
    return _NAMES.get(value)
