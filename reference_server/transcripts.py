"""OpenAI's transcription response formats, rendered from a backend's ``Transcription`` (§12).

``json`` and ``verbose_json`` are the protocol models of ``voicebox_api._models``; ``text`` is the
transcript and a newline; ``srt`` and ``vtt`` are subtitles with one cue per segment, which
``conformance.checks._subtitles`` parses back strictly.

Decisions:

- ``verbose_json.language`` is the lower-case English *name* of the language ("english"), as
  OpenAI returns it, not the ISO code that Voicebox's endpoints use.
- ``verbose_json`` always carries ``segments`` (OAI-3 needs them) and carries ``words`` only when
  word timestamps were asked for.
- Cue text is made safe for both subtitle formats: control characters and every run of
  whitespace (newlines included) become one space, so a cue is one line and never holds a blank
  line, and ``-->`` (which would read as a timing line) becomes ``->``. WebVTT text also has
  ``&``, ``<`` and ``>`` escaped, since WebVTT cue text is markup. Segments with no text left
  get no cue.
- Cue times are whole milliseconds, made monotonic: a cue starts no earlier than the previous
  cue ends and lasts at least 1 ms (WebVTT requires end after start), so a model's overlapping
  or zero-length segments still give a valid document.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, assert_never

from reference_server.backends.base import Segment, Transcription
from voicebox_api import (
    OpenAIResponseFormat,
    OpenAISegment,
    OpenAITranscription,
    OpenAIVerboseTranscription,
    OpenAIWord,
)

__all__ = [
    "MEDIA_TYPES",
    "RenderedTranscript",
    "TimedText",
    "cue_text",
    "language_name",
    "render",
    "subtitle_cues",
    "to_json",
    "to_srt",
    "to_text",
    "to_verbose_json",
    "to_vtt",
]

MEDIA_TYPES: Final[Mapping[OpenAIResponseFormat, str]] = MappingProxyType(
    {
        "json": "application/json",
        "verbose_json": "application/json",
        "text": "text/plain; charset=utf-8",
        # SubRip has no registered media type; OpenAI answers it as text/plain.
        "srt": "text/plain; charset=utf-8",
        "vtt": "text/vtt; charset=utf-8",
    }
)

# Whisper's language names (openai/whisper tokenizer.py, MIT), for its ISO 639-1 codes; Javanese
# is listed under its ISO code "jv" rather than Whisper's "jw". Hand-copied because the only
# installed source of the table is transformers, far too heavy to import for a dict; a test
# compares the two when transformers is installed.
_LANGUAGE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
        "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
        "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
        "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
        "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
        "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
        "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
        "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
        "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
        "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian",
        "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
        "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian",
        "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala",
        "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans",
        "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi",
        "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
        "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen",
        "nn": "nynorsk", "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish",
        "my": "myanmar", "bo": "tibetan", "tl": "tagalog", "mg": "malagasy", "as": "assamese",
        "tt": "tatar", "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jv": "javanese",
        "su": "sundanese",
    }
)  # fmt: skip

_ARROW_RUN: Final = re.compile(r"-{2,}>")
_TIME_DECIMALS: Final = 3


@dataclass(frozen=True)
class RenderedTranscript:
    """A response body and its Content-Type."""

    body: str
    media_type: str


@dataclass(frozen=True)
class TimedText:
    """One subtitle cue: whole-millisecond times and single-line, unescaped text."""

    start_ms: int
    end_ms: int
    text: str


def render(
    transcription: Transcription, response_format: OpenAIResponseFormat, *, words: bool = False
) -> RenderedTranscript:
    """Render ``transcription`` in ``response_format``; ``words`` adds verbose_json's words."""
    media_type = MEDIA_TYPES[response_format]
    if response_format == "json":
        return RenderedTranscript(to_json(transcription).model_dump_json(), media_type)
    if response_format == "verbose_json":
        body = to_verbose_json(transcription, words=words).model_dump_json(exclude_none=True)
        return RenderedTranscript(body, media_type)
    if response_format == "text":
        return RenderedTranscript(to_text(transcription), media_type)
    if response_format == "srt":
        return RenderedTranscript(to_srt(transcription), media_type)
    if response_format == "vtt":
        return RenderedTranscript(to_vtt(transcription), media_type)
    assert_never(response_format)


def language_name(code: str) -> str:
    """Whisper's name for an ISO 639-1 code ("en" -> "english"); unknown codes pass unchanged."""
    return _LANGUAGE_NAMES.get(code, code)


def to_json(transcription: Transcription) -> OpenAITranscription:
    return OpenAITranscription(text=transcription.text.strip())


def to_verbose_json(
    transcription: Transcription, *, words: bool = False
) -> OpenAIVerboseTranscription:
    return OpenAIVerboseTranscription(
        task="transcribe",
        language=language_name(transcription.language),
        duration=_seconds(transcription.duration),
        text=transcription.text.strip(),
        segments=[_openai_segment(segment) for segment in transcription.segments],
        words=_openai_words(transcription.segments) if words else None,
    )


def to_text(transcription: Transcription) -> str:
    return transcription.text.strip() + "\n"


def to_srt(transcription: Transcription) -> str:
    blocks = [
        f"{number}\n{_srt_time(cue.start_ms)} --> {_srt_time(cue.end_ms)}\n{cue.text}\n"
        for number, cue in enumerate(subtitle_cues(transcription.segments), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(transcription: Transcription) -> str:
    blocks = [
        f"{_vtt_time(cue.start_ms)} --> {_vtt_time(cue.end_ms)}\n{_vtt_escape(cue.text)}\n"
        for cue in subtitle_cues(transcription.segments)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def cue_text(text: str) -> str:
    """``text`` as one line that is safe in SubRip and WebVTT (before WebVTT escaping)."""
    no_controls = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return _ARROW_RUN.sub("->", " ".join(no_controls.split()))


def subtitle_cues(segments: Sequence[Segment]) -> list[TimedText]:
    """The cues that ``to_srt`` and ``to_vtt`` write for ``segments``, in order."""
    cues: list[TimedText] = []
    previous_end = 0
    for segment in segments:
        text = cue_text(segment.text)
        if not text:
            continue
        start = max(_milliseconds(segment.start), previous_end)
        end = max(_milliseconds(segment.end), start + 1)
        cues.append(TimedText(start, end, text))
        previous_end = end
    return cues


def _openai_segment(segment: Segment) -> OpenAISegment:
    return OpenAISegment(
        id=segment.id,
        seek=segment.seek,
        start=_seconds(segment.start),
        end=_seconds(segment.end),
        text=segment.text,
        tokens=list(segment.tokens),
        temperature=segment.temperature,
        avg_logprob=segment.avg_logprob,
        compression_ratio=segment.compression_ratio,
        no_speech_prob=segment.no_speech_prob,
    )


def _openai_words(segments: Sequence[Segment]) -> list[OpenAIWord]:
    return [
        OpenAIWord(word=word.word.strip(), start=_seconds(word.start), end=_seconds(word.end))
        for segment in segments
        for word in segment.words
    ]


def _seconds(value: float) -> float:
    return round(float(value), _TIME_DECIMALS)


def _milliseconds(seconds: float) -> int:
    return max(0, round(float(seconds) * 1000))


def _clock(milliseconds: int) -> tuple[int, int, int, int]:
    seconds, millis = divmod(milliseconds, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return hours, minutes, seconds, millis


def _srt_time(milliseconds: int) -> str:
    hours, minutes, seconds, millis = _clock(milliseconds)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"


def _vtt_time(milliseconds: int) -> str:
    hours, minutes, seconds, millis = _clock(milliseconds)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _vtt_escape(text: str) -> str:
    return html.escape(text, quote=False)
