"""The texts the suite asks providers to speak.

Plain everyday sentences, because the offline ASR judge (Whisper tiny.en) transcribes those
almost perfectly even from robotic voices, while hard sentences defeat it. Every text is
distinct enough that "closer to its own text than to the others" separates (INT-1).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "LANGUAGE_SENTENCES",
    "PLAIN_TEXTS",
    "UNICODE_TEXT",
    "long_text",
]

PLAIN_TEXTS: Final[dict[str, str]] = {
    "walk": "The weather is nice today, so we are going for a walk in the park.",
    "call": "Please call me back when you have a moment this afternoon.",
    "coffee": "I would like a cup of coffee with milk and no sugar.",
    "train": "The next train to the city leaves from platform four in ten minutes.",
}

UNICODE_TEXT: Final = "Café prices rose 12% — 3 croissants now cost €7.50, can you believe it?"
"""Non-ASCII letters, digits, symbols and punctuation (GEN-7)."""

LANGUAGE_SENTENCES: Final[dict[str, str]] = {
    "en": "Good morning, how are you today?",
    "zh": "早上好，今天你好吗？",
    "ja": "おはようございます、今日はお元気ですか？",
    "ko": "좋은 아침입니다, 오늘 기분이 어떠세요?",
    "de": "Guten Morgen, wie geht es dir heute?",
    "fr": "Bonjour, comment allez-vous aujourd'hui ?",
    "ru": "Доброе утро, как у вас дела сегодня?",
    "pt": "Bom dia, como você está hoje?",
    "es": "Buenos días, ¿cómo estás hoy?",
    "it": "Buongiorno, come stai oggi?",
    "nl": "Goedemorgen, hoe gaat het vandaag met je?",
    "pl": "Dzień dobry, jak się dzisiaj masz?",
    "tr": "Günaydın, bugün nasılsın?",
    "ar": "صباح الخير، كيف حالك اليوم؟",
    "hi": "सुप्रभात, आज आप कैसे हैं?",
    "sv": "God morgon, hur mår du idag?",
}
"""A short greeting per language for LANG-1; other declared languages fall back to English."""


def long_text(length: int) -> str:
    """Plain sentences joined to exactly ``length`` characters, ending on a full stop (GEN-5)."""
    if length < 1:
        raise ValueError("length must be positive")
    sentences = list(PLAIN_TEXTS.values())
    text = ""
    index = 0
    while len(text) < length:
        text = f"{text} {sentences[index % len(sentences)]}".strip()
        index += 1
    cut = text[:length].rstrip()
    if len(cut) < length:
        cut = cut + "." * (length - len(cut))
    return cut[:-1] + "." if length > 1 else "."
