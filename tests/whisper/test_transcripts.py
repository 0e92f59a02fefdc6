"""OpenAI response formats rendered from a Transcription."""

from __future__ import annotations

import json

import pytest

from conformance.checks._subtitles import parse_srt, parse_vtt, vtt_plain_text
from reference_server.backends.base import Segment, Transcription, Word
from reference_server.backends.whisper import WhisperBackend
from reference_server.transcripts import (
    MEDIA_TYPES,
    cue_text,
    language_name,
    render,
    subtitle_cues,
    to_srt,
    to_text,
    to_verbose_json,
    to_vtt,
)
from tests.whisper.conftest import Speech
from voicebox_api import OpenAITranscription, OpenAIVerboseTranscription

HELLO = Transcription(
    text=" Hello there. General Kenobi!",
    language="en",
    duration=3.5,
    segments=(
        Segment(
            id=0,
            start=0.0,
            end=1.2,
            text=" Hello there.",
            tokens=(50363, 15947, 612, 13),
            avg_logprob=-0.25,
            words=(Word(" Hello", 0.0, 0.6), Word(" there.", 0.6, 1.2)),
        ),
        Segment(
            id=1,
            start=1.5,
            end=3.26,
            text=" General Kenobi!",
            words=(Word(" General", 1.5, 2.3), Word(" Kenobi!", 2.3, 3.26)),
        ),
    ),
)


def test_json_is_the_stripped_text() -> None:
    rendered = render(HELLO, "json")
    assert rendered.media_type == "application/json"
    body = OpenAITranscription.model_validate_json(rendered.body)
    assert body.text == "Hello there. General Kenobi!"


def test_text_is_plain_text_with_a_final_newline() -> None:
    rendered = render(HELLO, "text")
    assert rendered.media_type.startswith("text/plain")
    assert rendered.body == "Hello there. General Kenobi!\n"


def test_verbose_json_names_the_language_and_keeps_segments() -> None:
    rendered = render(HELLO, "verbose_json")
    raw = json.loads(rendered.body)
    assert "words" not in raw
    body = OpenAIVerboseTranscription.model_validate(raw)
    assert (body.task, body.language, body.duration) == ("transcribe", "english", 3.5)
    assert [(s.id, s.start, s.end, s.text) for s in body.segments] == [
        (0, 0.0, 1.2, " Hello there."),
        (1, 1.5, 3.26, " General Kenobi!"),
    ]
    assert body.segments[0].tokens == [50363, 15947, 612, 13]
    assert body.segments[0].avg_logprob == -0.25


def test_verbose_json_words_when_asked() -> None:
    body = OpenAIVerboseTranscription.model_validate_json(
        render(HELLO, "verbose_json", words=True).body
    )
    assert body.words is not None
    assert [(w.word, w.start, w.end) for w in body.words] == [
        ("Hello", 0.0, 0.6),
        ("there.", 0.6, 1.2),
        ("General", 1.5, 2.3),
        ("Kenobi!", 2.3, 3.26),
    ]


def test_verbose_json_times_are_rounded_to_milliseconds() -> None:
    noisy = Transcription(
        "x", "en", 2.0000001, (Segment(id=0, start=0.1 + 0.2, end=1.23456, text="x"),)
    )
    body = to_verbose_json(noisy)
    assert (body.duration, body.segments[0].start, body.segments[0].end) == (2.0, 0.3, 1.235)


def test_srt_exactly() -> None:
    assert to_srt(HELLO) == (
        "1\n00:00:00,000 --> 00:00:01,200\nHello there.\n\n"
        "2\n00:00:01,500 --> 00:00:03,260\nGeneral Kenobi!\n"
    )
    assert render(HELLO, "srt").media_type == MEDIA_TYPES["srt"]


def test_vtt_exactly() -> None:
    assert to_vtt(HELLO) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.200\nHello there.\n\n"
        "00:00:01.500 --> 00:00:03.260\nGeneral Kenobi!\n"
    )
    assert render(HELLO, "vtt").media_type.startswith("text/vtt")


def test_long_times_carry_into_hours() -> None:
    late = Transcription("x", "en", 4000.0, (Segment(0, 3725.5, 3726.042, "late"),))
    assert "01:02:05,500 --> 01:02:06,042" in to_srt(late)
    assert "01:02:05.500 --> 01:02:06.042" in to_vtt(late)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (" Hello  world ", "Hello world"),
        ("two\n\nparagraphs\r\nhere", "two paragraphs here"),
        ("arrow --> here", "arrow -> here"),
        ("long ---> arrow and ----->", "long -> arrow and ->"),
        ("bell\x07 and nul\x00", "bell and nul"),
        ("line\u2028separator", "line separator"),
        ("   \n\t ", ""),
    ],
)
def test_cue_text_is_one_safe_line(raw: str, clean: str) -> None:
    assert cue_text(raw) == clean


def test_hostile_text_still_gives_valid_subtitles() -> None:
    hostile = Transcription(
        text="",
        language="en",
        duration=5.0,
        segments=(
            Segment(0, 0.0, 1.0, "1\n00:00:00,000 --> 00:00:09,000\n\nfake cue"),
            Segment(1, 1.0, 2.0, "WEBVTT & <b>bold</b> --> x"),
            Segment(2, 2.0, 3.0, "   "),
            Segment(3, 3.0, 4.0, "NOTE this is not a note"),
        ),
    )
    srt = parse_srt(to_srt(hostile))
    vtt = parse_vtt(to_vtt(hostile))
    assert [cue.text for cue in srt] == [
        "1 00:00:00,000 -> 00:00:09,000 fake cue",
        "WEBVTT & <b>bold</b> -> x",
        "NOTE this is not a note",
    ]
    assert [vtt_plain_text(cue.text) for cue in vtt] == [cue.text for cue in srt]
    assert "&amp; &lt;b&gt;bold&lt;/b&gt;" in vtt[1].text
    assert [cue.identifier for cue in srt] == ["1", "2", "3"]


def test_overlapping_and_empty_segments_are_made_monotonic() -> None:
    messy = [
        Segment(0, 0.0, 2.0, "one"),
        Segment(1, 1.5, 1.5, "two"),  # starts inside "one" and lasts nothing
        Segment(2, 1.0, 0.5, "three"),  # ends before it starts
        Segment(3, -1.0, 4.0, "four"),
    ]
    cues = subtitle_cues(messy)
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [
        (0, 2000, "one"),
        (2000, 2001, "two"),
        (2001, 2002, "three"),
        (2002, 4000, "four"),
    ]
    parse_vtt(to_vtt(Transcription("", "en", 4.0, tuple(messy))))
    parse_srt(to_srt(Transcription("", "en", 4.0, tuple(messy))))


def test_no_segments_gives_empty_but_valid_documents() -> None:
    empty = Transcription(text="", language="en", duration=1.0)
    assert parse_srt(to_srt(empty)) == []
    assert parse_vtt(to_vtt(empty)) == []
    assert to_text(empty) == "\n"


def test_language_names_are_whispers() -> None:
    assert language_name("en") == "english"
    assert language_name("jv") == "javanese"
    assert language_name("ht") == "haitian creole"
    assert language_name("xx") == "xx"


@pytest.mark.slow  # importing transformers takes seconds
def test_the_language_table_matches_whispers_own() -> None:
    tokenization = pytest.importorskip(
        "transformers.models.whisper.tokenization_whisper", reason="needs transformers"
    )
    expected = {
        ("jv" if code == "jw" else code): name
        for code, name in tokenization.LANGUAGES.items()
        if len(code) == 2
    }
    assert {code: language_name(code) for code in expected} == expected


@pytest.fixture(scope="module")
def real_transcription(backend: WhisperBackend, speech: Speech) -> Transcription:
    return backend.transcribe(*speech, word_timestamps=True)


@pytest.mark.parametrize("response_format", ["json", "text", "srt", "verbose_json", "vtt"])
def test_every_format_renders_a_real_transcription(
    real_transcription: Transcription, response_format: str
) -> None:
    rendered = render(real_transcription, response_format, words=True)  # type: ignore[arg-type]
    if response_format == "json":
        assert "weather" in OpenAITranscription.model_validate_json(rendered.body).text
    elif response_format == "verbose_json":
        body = OpenAIVerboseTranscription.model_validate_json(rendered.body)
        assert body.language == "english"
        assert body.words
        assert all(0 <= s.start <= s.end <= body.duration for s in body.segments)
    elif response_format == "text":
        assert "weather" in rendered.body
    elif response_format == "srt":
        assert "weather" in parse_srt(rendered.body)[0].text
    else:
        assert "weather" in parse_vtt(rendered.body)[0].text
