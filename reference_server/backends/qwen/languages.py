"""ISO 639-1 codes (the protocol's, SPEC.md section 8) to Qwen3-TTS language names.

Qwen3-TTS names languages in English (``"english"``, ``"chinese"``...) and also accepts
``"auto"``. The protocol speaks ISO codes only, so ``auto`` is not offered: a client always says
which language its text is in (the default is ``en``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from reference_server.backends.base import UnsupportedLanguageError

__all__ = ["ISO_TO_QWEN", "declared_languages", "qwen_language_name"]

ISO_TO_QWEN: Final[Mapping[str, str]] = MappingProxyType(
    {
        "en": "english",
        "zh": "chinese",
        "ja": "japanese",
        "ko": "korean",
        "de": "german",
        "fr": "french",
        "ru": "russian",
        "pt": "portuguese",
        "es": "spanish",
        "it": "italian",
    }
)


def declared_languages(model_languages: Iterable[str] | None) -> tuple[str, ...]:
    """The ISO codes a model speaks: its own language names intersected with the mapping.

    ``None`` means the model declares no constraint, so every mapped language is offered.
    The order is the mapping's (``en`` first), so /health is stable.
    """
    if model_languages is None:
        return tuple(ISO_TO_QWEN)
    spoken = {name.lower() for name in model_languages}
    return tuple(code for code, name in ISO_TO_QWEN.items() if name in spoken)


def qwen_language_name(code: str, declared: tuple[str, ...]) -> str:
    """Map a declared ISO code to Qwen's name; anything else is UnsupportedLanguageError."""
    if code not in declared:
        raise UnsupportedLanguageError(
            f"language {code[:16]!r} is not supported; supported: {', '.join(declared)}"
        )
    return ISO_TO_QWEN[code]
