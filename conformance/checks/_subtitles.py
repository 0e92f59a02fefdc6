"""Strict parsers for the ``srt`` and ``vtt`` transcription formats (SPEC.md OAI-4, OAI-5).

Each parser returns the document's cues or raises a ``SubtitleError`` naming the 1-based line
and what is wrong with it, so that a failed check can quote the exact defect.

SubRip has no formal specification; the rules here are what every player accepts and what
OpenAI writes: an optional UTF-8 BOM, then blocks separated by blank lines, each a cue number
(1, 2, 3 ... in order), a timing line ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` and one or more text
lines. WebVTT follows the W3C syntax (https://www.w3.org/TR/webvtt1/): the ``WEBVTT`` header,
NOTE, STYLE and REGION blocks, optional cue identifiers, ``[HH:]MM:SS.mmm`` timestamps, cue
settings, and an end time after the start time. The markup inside WebVTT cue text (tags and
character references) is not validated: OpenAI's own writer does not escape ``&`` or ``<``.

Beyond the formats, both parsers hold a transcript to what a transcript is: cues in time order,
and (unless ``allow_overlap``) no cue starting before the previous one ends.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "Cue",
    "SubtitleError",
    "SubtitleFormat",
    "parse_srt",
    "parse_vtt",
    "vtt_plain_text",
]

SubtitleFormat = Literal["srt", "vtt"]

_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
_SRT_TIMESTAMP: Final = re.compile(r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3})")
_VTT_TIMESTAMP: Final = re.compile(r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})")
_SRT_TIMING: Final = re.compile(r"(\S+)[ \t]+-->[ \t]+(\S+)")
_VTT_TIMING: Final = re.compile(r"(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+(.*))?")
_CUE_NUMBER: Final = re.compile(r"\d+")
_VTT_HEADER: Final = re.compile(r"WEBVTT(?:[ \t].*)?")
_VTT_NOTE: Final = re.compile(r"NOTE(?:[ \t].*)?")
_VTT_HEADER_BLOCK: Final = re.compile(r"(STYLE|REGION)[ \t]*")
_VTT_SETTING_NAMES: Final = frozenset({"vertical", "line", "position", "size", "align", "region"})
_TAG: Final = re.compile(r"<[^>]*>")
_ARROW: Final = "-->"


class SubtitleError(ValueError):
    """A subtitle document is not valid; ``line`` is 1-based."""

    def __init__(self, subtitle_format: SubtitleFormat, line: int, reason: str) -> None:
        super().__init__(f"{subtitle_format.upper()} line {line}: {reason}")
        self.subtitle_format = subtitle_format
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Cue:
    """One parsed cue. ``text`` is its lines joined by ``\\n``, as written (WebVTT markup kept)."""

    start_ms: int
    end_ms: int
    text: str
    identifier: str | None
    """The SubRip cue number or the WebVTT cue identifier, as written; None when absent."""
    line: int
    """The 1-based line of the cue's timing line."""

    @property
    def start(self) -> float:
        return self.start_ms / 1000

    @property
    def end(self) -> float:
        return self.end_ms / 1000


@dataclass(frozen=True)
class _Line:
    number: int
    text: str


def parse_srt(document: str | bytes, *, allow_overlap: bool = False) -> list[Cue]:
    """Parse a SubRip document strictly; raise SubtitleError at the first defect."""
    lines = _split_lines(document, "srt")
    cues: list[Cue] = []
    for block in _blocks(lines, blank=lambda text: not text.strip()):
        cue = _srt_cue(block, expected_number=len(cues) + 1)
        _check_sequence("srt", cues[-1] if cues else None, cue, allow_overlap=allow_overlap)
        cues.append(cue)
    return cues


def parse_vtt(document: str | bytes, *, allow_overlap: bool = False) -> list[Cue]:
    """Parse a WebVTT document strictly; raise SubtitleError at the first defect."""
    lines = _split_lines(document, "vtt")
    if not lines or not _VTT_HEADER.fullmatch(lines[0].text):
        first = lines[0].text[:40] if lines else ""
        raise SubtitleError("vtt", 1, f"expected the 'WEBVTT' header, found {first!r}")
    blocks = list(_blocks(lines, blank=lambda text: text == ""))
    _check_vtt_header(blocks[0])
    cues: list[Cue] = []
    for block in blocks[1:]:
        cue = _vtt_block(block, cues_seen=bool(cues))
        if cue is None:
            continue
        _check_sequence("vtt", cues[-1] if cues else None, cue, allow_overlap=allow_overlap)
        cues.append(cue)
    return cues


def vtt_plain_text(text: str) -> str:
    """WebVTT cue text without its tags and with character references decoded."""
    return html.unescape(_TAG.sub("", text))


# --- shared ----------------------------------------------------------------------------------


def _split_lines(document: str | bytes, subtitle_format: SubtitleFormat) -> list[_Line]:
    if isinstance(document, bytes):
        document = _decode(document, subtitle_format)
    document = document.removeprefix("\ufeff")
    if document == "":
        return []
    lines = [_Line(number, text) for number, text in enumerate(_LINE_BREAK.split(document), 1)]
    for line in lines:
        if "\0" in line.text:
            raise SubtitleError(subtitle_format, line.number, "holds a NUL character")
    return lines


def _decode(document: bytes, subtitle_format: SubtitleFormat) -> str:
    try:
        return document.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = document.count(b"\n", 0, exc.start) + 1
        raise SubtitleError(
            subtitle_format, line, f"is not UTF-8 (byte {exc.start}: {exc.reason})"
        ) from None


def _blocks(lines: list[_Line], *, blank: Callable[[str], bool]) -> Iterator[list[_Line]]:
    block: list[_Line] = []
    for line in lines:
        if blank(line.text):
            if block:
                yield block
            block = []
        else:
            block.append(line)
    if block:
        yield block


def _check_sequence(
    subtitle_format: SubtitleFormat, previous: Cue | None, cue: Cue, *, allow_overlap: bool
) -> None:
    if previous is None:
        return
    if cue.start_ms < previous.start_ms:
        raise SubtitleError(
            subtitle_format,
            cue.line,
            f"cue starts at {cue.start:.3f} s, before the previous cue's start at "
            f"{previous.start:.3f} s (line {previous.line})",
        )
    if not allow_overlap and cue.start_ms < previous.end_ms:
        raise SubtitleError(
            subtitle_format,
            cue.line,
            f"cue starts at {cue.start:.3f} s, before the previous cue ends at "
            f"{previous.end:.3f} s (line {previous.line})",
        )


def _check_text_line(subtitle_format: SubtitleFormat, line: _Line) -> None:
    if _ARROW in line.text:
        raise SubtitleError(
            subtitle_format,
            line.number,
            "cue text contains '-->' (is a blank line missing before this timing line?)",
        )
    if not line.text.strip():
        raise SubtitleError(subtitle_format, line.number, "cue text line holds only whitespace")


def _milliseconds(hours: str | None, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


# --- SubRip ----------------------------------------------------------------------------------


def _srt_cue(block: list[_Line], *, expected_number: int) -> Cue:
    number_line, *rest = block
    number = number_line.text.rstrip(" \t")
    if not _CUE_NUMBER.fullmatch(number):
        what = "a timing line" if _ARROW in number else repr(number[:40])
        if expected_number > 1 and _ARROW not in number:
            what += " (is there a blank line inside the previous cue's text?)"
        raise SubtitleError(
            "srt", number_line.number, f"expected cue number {expected_number}, found {what}"
        )
    if int(number) != expected_number:
        raise SubtitleError(
            "srt", number_line.number, f"expected cue number {expected_number}, found {number}"
        )
    if not rest:
        raise SubtitleError("srt", number_line.number, "cue number without a timing line")
    timing_line, *text_lines = rest
    start_ms, end_ms = _srt_timing(timing_line)
    if not text_lines:
        raise SubtitleError("srt", timing_line.number, "cue has no text line")
    for line in text_lines:
        _check_text_line("srt", line)
    return Cue(
        start_ms=start_ms,
        end_ms=end_ms,
        text="\n".join(line.text for line in text_lines),
        identifier=number,
        line=timing_line.number,
    )


def _srt_timing(line: _Line) -> tuple[int, int]:
    match = _SRT_TIMING.fullmatch(line.text.rstrip(" \t"))
    if match is None:
        expected = "'HH:MM:SS,mmm --> HH:MM:SS,mmm'"
        raise SubtitleError("srt", line.number, f"expected {expected}, found {line.text[:60]!r}")
    start_ms = _srt_timestamp(line, match.group(1), "start")
    end_ms = _srt_timestamp(line, match.group(2), "end")
    if end_ms < start_ms:
        raise SubtitleError("srt", line.number, "cue ends before it starts")
    return start_ms, end_ms


def _srt_timestamp(line: _Line, text: str, which: str) -> int:
    match = _SRT_TIMESTAMP.fullmatch(text)
    if match is None:
        hint = " (SubRip separates milliseconds with ',')" if "." in text else ""
        raise SubtitleError("srt", line.number, f"{which} time {text!r} is not HH:MM:SS,mmm{hint}")
    return _milliseconds(*match.groups())


# --- WebVTT ----------------------------------------------------------------------------------


def _check_vtt_header(header: list[_Line]) -> None:
    for line in header[1:]:
        if _ARROW in line.text:
            raise SubtitleError(
                "vtt", line.number, "a blank line must separate the header from the first cue"
            )


def _vtt_block(block: list[_Line], *, cues_seen: bool) -> Cue | None:
    first = block[0]
    if not first.text.strip():
        raise SubtitleError(
            "vtt", first.number, "line holds only whitespace (a blank line must be empty)"
        )
    if _VTT_NOTE.fullmatch(first.text):
        _check_no_arrow(block, "a NOTE block")
        return None
    if header_block := _VTT_HEADER_BLOCK.fullmatch(first.text):
        keyword = header_block.group(1)
        if cues_seen:
            raise SubtitleError("vtt", first.number, f"{keyword} block after the first cue")
        _check_no_arrow(block, f"a {keyword} block")
        return None
    if _ARROW in first.text:
        return _vtt_cue(None, first, block[1:])
    if len(block) < 2 or _ARROW not in block[1].text:
        raise SubtitleError(
            "vtt", first.number, "block is not a cue (no timing line), NOTE, STYLE or REGION"
        )
    return _vtt_cue(first.text, block[1], block[2:])


def _check_no_arrow(block: list[_Line], what: str) -> None:
    for line in block:
        if _ARROW in line.text:
            raise SubtitleError("vtt", line.number, f"{what} must not contain '-->'")


def _vtt_cue(identifier: str | None, timing: _Line, payload: list[_Line]) -> Cue:
    match = _VTT_TIMING.fullmatch(timing.text.rstrip(" \t"))
    if match is None:
        raise SubtitleError(
            "vtt",
            timing.number,
            f"expected '[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm', found {timing.text[:60]!r}",
        )
    start_ms = _vtt_timestamp(timing, match.group(1), "start")
    end_ms = _vtt_timestamp(timing, match.group(2), "end")
    if end_ms <= start_ms:
        raise SubtitleError("vtt", timing.number, "cue end time is not after its start time")
    _check_vtt_settings(timing, match.group(3) or "")
    for line in payload:
        _check_text_line("vtt", line)
    return Cue(
        start_ms=start_ms,
        end_ms=end_ms,
        text="\n".join(line.text for line in payload),
        identifier=identifier,
        line=timing.number,
    )


def _vtt_timestamp(line: _Line, text: str, which: str) -> int:
    match = _VTT_TIMESTAMP.fullmatch(text)
    if match is None:
        hint = " (WebVTT separates milliseconds with '.')" if "," in text else ""
        raise SubtitleError(
            "vtt", line.number, f"{which} time {text!r} is not [HH:]MM:SS.mmm{hint}"
        )
    return _milliseconds(*match.groups())


def _check_vtt_settings(line: _Line, settings: str) -> None:
    for setting in settings.split():
        name, colon, value = setting.partition(":")
        if not colon or not value or name not in _VTT_SETTING_NAMES:
            raise SubtitleError("vtt", line.number, f"unknown cue setting {setting!r}")
