"""Which espeak-ng voice speaks which language, and which voice variants steer the timbre."""

from __future__ import annotations

from typing import Final

__all__ = ["LANGUAGE_VOICES", "VARIANTS", "voice_name"]

LANGUAGE_VOICES: Final[dict[str, str]] = {
    # The ten languages of Qwen3-TTS first, then common languages espeak-ng speaks well.
    "en": "en-us",
    "zh": "cmn",
    "ja": "ja",
    "ko": "ko",
    "de": "de",
    "fr": "fr",
    "ru": "ru",
    "pt": "pt",
    "es": "es",
    "it": "it",
    "nl": "nl",
    "pl": "pl",
    "sv": "sv",
    "da": "da",
    "fi": "fi",
    "cs": "cs",
    "el": "el",
    "tr": "tr",
    "uk": "uk",
    "hi": "hi",
    "vi": "vi",
}
"""ISO 639-1 code -> espeak-ng voice name."""

VARIANTS: Final[tuple[str, ...]] = ("m8", "m1", "m3", "m7", "aunty", "f4", "f2", "f3")
"""The espeak-ng voice variants the backend chooses from, low to high pitch.

Chosen for intelligibility (Whisper tiny.en transcribes each of them) and to cover adult
pitch from about 85 to 215 Hz; the pitch parameter covers the rest. Variants with echo-heavy
or robotic settings (``klatt*``, ``robosoft*``, ``whisper``, ``zac``) are left out."""


def voice_name(language: str, variant: str) -> str:
    """The name ``espeak_SetVoiceByName`` takes, e.g. ``en-us+m7``."""
    return f"{LANGUAGE_VOICES[language]}+{variant}"
