"""The strict SRT and WebVTT parsers: valid documents, every defect, and round trips."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.checks._subtitles import (
    Cue,
    SubtitleError,
    parse_srt,
    parse_vtt,
    vtt_plain_text,
)
from reference_server.backends.base import Segment, Transcription
from reference_server.transcripts import subtitle_cues, to_srt, to_vtt

# --- valid documents -------------------------------------------------------------------------


def test_srt_cues_are_parsed() -> None:
    document = (
        "1\n00:00:00,000 --> 00:00:01,500\nHello\nthere.\n\n"
        "2\n00:00:02,000 --> 01:00:03,250\nSecond.\n"
    )
    assert parse_srt(document) == [
        Cue(0, 1500, "Hello\nthere.", "1", line=2),
        Cue(2000, 3_603_250, "Second.", "2", line=7),
    ]


def test_srt_accepts_bom_crlf_extra_blank_lines_and_bytes() -> None:
    document = (
        "\ufeff1\r\n00:00:00,000 --> 00:00:01,000\r\nA\r\n\r\n"
        "\r\n2\r\n00:00:01,000 --> 00:00:02,000\r\nB\r\n"
    )
    cues = parse_srt(document.encode("utf-8"))
    assert [(c.text, c.line) for c in cues] == [("A", 2), ("B", 7)]
    assert cues[1].start == 1.0


def test_srt_allows_a_zero_length_cue_and_an_empty_document() -> None:
    assert parse_srt("1\n00:00:01,000 --> 00:00:01,000\nblink\n")[0].end_ms == 1000
    assert parse_srt("") == []
    assert parse_srt("\n\n") == []


def test_vtt_features_are_parsed() -> None:
    document = (
        "WEBVTT - a transcript\nKind: captions\n\n"
        "STYLE\n::cue { color: lime }\n\n"
        "NOTE written by hand\nover two lines\n\n"
        "intro\n00:01.000 --> 00:02.500 align:start position:10%\n<v Roger>Hi &amp; bye</v>\n\n"
        "NOTE\n\n"
        "01:00:00.000 --> 01:00:01.000\nlater\nsecond line\n\n"
        "01:00:01.000 --> 01:00:02.000\n"
    )
    cues = parse_vtt(document)
    assert cues == [
        Cue(1000, 2500, "<v Roger>Hi &amp; bye</v>", "intro", line=11),
        Cue(3_600_000, 3_601_000, "later\nsecond line", None, line=16),
        Cue(3_601_000, 3_602_000, "", None, line=20),
    ]
    assert vtt_plain_text(cues[0].text) == "Hi & bye"


def test_vtt_header_alone_is_an_empty_document() -> None:
    assert parse_vtt("WEBVTT") == []
    assert parse_vtt("WEBVTT\n\n") == []
    assert parse_vtt(b"\xef\xbb\xbfWEBVTT\r\n") == []


def test_overlap_is_refused_unless_allowed() -> None:
    srt = "1\n00:00:00,000 --> 00:00:02,000\nA\n\n2\n00:00:01,000 --> 00:00:03,000\nB\n"
    vtt = "WEBVTT\n\n00:00.000 --> 00:02.000\nA\n\n00:01.000 --> 00:03.000\nB\n"
    with pytest.raises(SubtitleError) as info:
        parse_srt(srt)
    assert info.value.line == 6
    with pytest.raises(SubtitleError):
        parse_vtt(vtt)
    assert len(parse_srt(srt, allow_overlap=True)) == 2
    assert len(parse_vtt(vtt, allow_overlap=True)) == 2


# --- defects -----------------------------------------------------------------------------------

_SRT_DEFECTS = [
    pytest.param(
        "00:00:00,000 --> 00:00:01,000\nA\n",
        1,
        "expected cue number 1, found a timing line",
        id="missing-number",
    ),
    pytest.param(
        "2\n00:00:00,000 --> 00:00:01,000\nA\n",
        1,
        "expected cue number 1, found 2",
        id="starts-at-2",
    ),
    pytest.param(
        "1\n00:00:00,000 --> 00:00:01,000\nA\n\n3\n00:00:01,000 --> 00:00:02,000\nB\n",
        5,
        "expected cue number 2, found 3",
        id="skips-a-number",
    ),
    pytest.param(
        "1\n00:00:00,000 --> 00:00:01,000\nA\n\nB\n",
        5,
        "blank line inside the previous cue",
        id="blank-line-in-text",
    ),
    pytest.param("1\n", 1, "without a timing line", id="no-timing"),
    pytest.param(
        "1\n00:00:00,000 -> 00:00:01,000\nA\n",
        2,
        "expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm'",
        id="bad-arrow",
    ),
    pytest.param(
        "1\n00:00:00.000 --> 00:00:01,000\nA\n",
        2,
        "start time '00:00:00.000' is not HH:MM:SS,mmm (SubRip separates milliseconds with ',')",
        id="vtt-style-dot",
    ),
    pytest.param(
        "1\n00:00:00,000 --> 00:61:00,000\nA\n",
        2,
        "end time '00:61:00,000'",
        id="minutes-over-59",
    ),
    pytest.param(
        "1\n0:00:00,000 --> 00:00:01,000\nA\n",
        2,
        "start time",
        id="one-digit-hours",
    ),
    pytest.param(
        "1\n00:00:00,00 --> 00:00:01,000\nA\n",
        2,
        "start time",
        id="two-digit-millis",
    ),
    pytest.param(
        "1\n00:00:02,000 --> 00:00:01,000\nA\n",
        2,
        "ends before it starts",
        id="end-before-start",
    ),
    pytest.param("1\n00:00:00,000 --> 00:00:01,000\n", 2, "no text", id="no-text"),
    pytest.param(
        "1\n00:00:00,000 --> 00:00:01,000\nA\n2\n00:00:01,000 --> 00:00:02,000\nB\n",
        5,
        "contains '-->'",
        id="missing-blank-line",
    ),
    pytest.param(
        "1\n00:00:05,000 --> 00:00:06,000\nA\n\n2\n00:00:01,000 --> 00:00:02,000\nB\n",
        6,
        "before the previous cue's start at 5.000 s (line 2)",
        id="out-of-order",
    ),
    pytest.param(
        "1\n00:00:00,000 --> 00:00:01,000\nA\x00\n",
        3,
        "NUL",
        id="nul",
    ),
]


@pytest.mark.parametrize(("document", "line", "reason"), _SRT_DEFECTS)
def test_srt_defects_are_named(document: str, line: int, reason: str) -> None:
    with pytest.raises(SubtitleError) as info:
        parse_srt(document)
    assert info.value.line == line
    assert reason in info.value.reason
    assert str(info.value).startswith(f"SRT line {line}: ")


_VTT_DEFECTS = [
    pytest.param("", 1, "expected the 'WEBVTT' header", id="empty"),
    pytest.param("1\n00:00:00,000 --> 00:00:01,000\nA\n", 1, "found '1'", id="srt"),
    pytest.param("WEBVTTX\n", 1, "WEBVTT", id="header-suffix"),
    pytest.param(" WEBVTT\n", 1, "WEBVTT", id="header-indented"),
    pytest.param(
        "WEBVTT\n00:00.000 --> 00:01.000\nA\n",
        2,
        "blank line must separate the header",
        id="cue-in-header",
    ),
    pytest.param(
        "WEBVTT\n\n00:00,000 --> 00:01.000\nA\n",
        3,
        "(WebVTT separates milliseconds with '.')",
        id="srt-style-comma",
    ),
    pytest.param(
        "WEBVTT\n\n0:00.000 --> 00:01.000\nA\n",
        3,
        "start time '0:00.000'",
        id="one-digit-minutes",
    ),
    pytest.param(
        "WEBVTT\n\n00:00:60.000 --> 00:01:00.000\nA\n",
        3,
        "start time",
        id="seconds-over-59",
    ),
    pytest.param(
        "WEBVTT\n\n00:01.000 --> 00:01.000\nA\n",
        3,
        "not after its start",
        id="zero-length",
    ),
    pytest.param(
        "WEBVTT\n\n00:00.000 --> 00:01.000 colour:red\nA\n",
        3,
        "unknown cue setting 'colour:red'",
        id="bad-setting",
    ),
    pytest.param("WEBVTT\n\nhello\nworld\n", 3, "not a cue", id="not-a-cue"),
    pytest.param(
        "WEBVTT\n\n00:00.000 --> 00:01.000\nA\n   \nB\n",
        5,
        "only whitespace",
        id="whitespace-line-in-text",
    ),
    pytest.param(
        "WEBVTT\n\n00:00.000 --> 00:01.000\nA\n00:01.000 --> 00:02.000\nB\n",
        5,
        "contains '-->'",
        id="missing-blank-line",
    ),
    pytest.param(
        "WEBVTT\n\n00:00.000 --> 00:01.000\nA\n\nSTYLE\n::cue {}\n",
        6,
        "STYLE block after the first cue",
        id="late-style",
    ),
    pytest.param("WEBVTT\n\nNOTE a --> b\n", 3, "NOTE block", id="arrow-in-note"),
    pytest.param(
        "WEBVTT\n\n00:05.000 --> 00:06.000\nA\n\n00:01.000 --> 00:02.000\nB\n",
        6,
        "before the previous cue's start",
        id="out-of-order",
    ),
    pytest.param(
        "WEBVTT\n\n00:00.000 --> 00:01.000\nA\n   \n",
        5,
        "only whitespace",
        id="trailing-whitespace-line",
    ),
]


@pytest.mark.parametrize(("document", "line", "reason"), _VTT_DEFECTS)
def test_vtt_defects_are_named(document: str, line: int, reason: str) -> None:
    with pytest.raises(SubtitleError) as info:
        parse_vtt(document)
    assert info.value.line == line
    assert reason in info.value.reason


def test_a_whitespace_only_block_start_is_named() -> None:
    with pytest.raises(SubtitleError, match="only whitespace") as info:
        parse_vtt("WEBVTT\n\n \n")
    assert info.value.line == 3


def test_invalid_utf8_names_its_line() -> None:
    document = b"1\n00:00:00,000 --> 00:00:01,000\ncaf\xe9\n"
    with pytest.raises(SubtitleError, match="not UTF-8") as info:
        parse_srt(document)
    assert info.value.line == 3
    with pytest.raises(SubtitleError):
        parse_vtt(b"WEBVTT\n\n" + document[2:])


def test_errors_are_value_errors_with_their_format() -> None:
    with pytest.raises(ValueError, match="VTT line 1"):
        parse_vtt("nope")


# --- round trips through reference_server.transcripts ---------------------------------------

_texts = st.text(max_size=40)
# CI shares two cores with other jobs; slow generation there is not a defect of the code.
_patient = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _transcriptions(draw: st.DrawFn) -> Transcription:
    count = draw(st.integers(min_value=0, max_value=8))
    segments = []
    for index in range(count):
        start = draw(st.floats(min_value=-1.0, max_value=400_000.0, allow_nan=False))
        length = draw(st.floats(min_value=-2.0, max_value=60.0, allow_nan=False))
        segments.append(Segment(id=index, start=start, end=start + length, text=draw(_texts)))
    segments.sort(key=lambda segment: segment.start)
    return Transcription(text="", language="en", duration=500_000.0, segments=tuple(segments))


@_patient
@given(_transcriptions())
def test_srt_round_trips(transcription: Transcription) -> None:
    expected = subtitle_cues(transcription.segments)
    parsed = parse_srt(to_srt(transcription))
    assert [(c.start_ms, c.end_ms, c.text) for c in parsed] == [
        (c.start_ms, c.end_ms, c.text) for c in expected
    ]
    assert [c.identifier for c in parsed] == [str(n) for n in range(1, len(expected) + 1)]


@_patient
@given(_transcriptions())
def test_vtt_round_trips(transcription: Transcription) -> None:
    expected = subtitle_cues(transcription.segments)
    parsed = parse_vtt(to_vtt(transcription))
    assert [(c.start_ms, c.end_ms, vtt_plain_text(c.text)) for c in parsed] == [
        (c.start_ms, c.end_ms, c.text) for c in expected
    ]


def _visible(text: str) -> str:
    """The characters that cue text must keep: all but whitespace, controls and arrows' parts."""
    return "".join(
        ch
        for ch in text
        if not ch.isspace() and unicodedata.category(ch) != "Cc" and ch not in "->"
    )


@_patient
@given(_transcriptions())
def test_cue_text_loses_only_whitespace_controls_and_arrows(transcription: Transcription) -> None:
    spoken = [
        segment.text
        for segment in transcription.segments
        if any(not ch.isspace() and unicodedata.category(ch) != "Cc" for ch in segment.text)
    ]
    cues = subtitle_cues(transcription.segments)
    assert [_visible(cue.text) for cue in cues] == [_visible(text) for text in spoken]
    assert all("-->" not in cue.text and "\n" not in cue.text for cue in cues)
