"""A transcriber that ignores its audio passes TRN-1 and OAI-1 but not TRN-6 and OAI-9."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from conformance.checks import openai, transcribe
from conformance.engine.outcome import Failed
from conformance.engine.references import transcription_clips
from tests.checks.fakes import json_answer, session_over

WHISPER = {"whisper_url": "http://whisper.test"}
OPENAI_ONLY: dict[str, Any] = {"whisper_mode": "openai-api", "openai_base_url": "http://o.test/v1"}


def _deaf(request: httpx.Request) -> httpx.Response:
    return json_answer(200, {"text": "Thank you for watching."})


def _faithful(request: httpx.Request) -> httpx.Response:
    """Knows each bundled clip by its bytes and answers its exact text."""
    body = request.read()
    for clip in transcription_clips():
        if clip.encoded("wav") in body:
            return json_answer(200, {"text": clip.text})
    return json_answer(200, {"text": ""})


def test_the_same_words_for_every_clip_pass_trn_1_but_fail_trn_6() -> None:
    s = session_over(_deaf, **WHISPER)
    transcribe.wav_is_transcribed_to_text(s)
    with pytest.raises(Failed, match=re.escape("closer to")):
        transcribe.each_transcript_is_closest_to_its_own_clip(s)


def test_the_same_words_for_every_clip_pass_oai_1_but_fail_oai_9() -> None:
    s = session_over(_deaf, **OPENAI_ONLY)
    openai.json_format_answers_text(s)
    with pytest.raises(Failed):
        openai.each_transcript_is_closest_to_its_own_clip(s)


def test_a_faithful_transcriber_passes_both() -> None:
    transcribe.each_transcript_is_closest_to_its_own_clip(session_over(_faithful, **WHISPER))
    openai.each_transcript_is_closest_to_its_own_clip(session_over(_faithful, **OPENAI_ONLY))
