"""A provider that serves the transcription endpoints without declaring them is checked."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.engine.options import AsrJudgeChoice, SpeakerJudgeChoice
from conformance.engine.record import Verdict
from tests.conformance.mutants import edit_health
from tests.conformance.provider import provider, run_suite
from tests.conformance.rewrite import Rewrite

pytestmark = pytest.mark.slow

TRANSCRIPTION = ("TRN-", "OAI-")
NO_JUDGES: dict[str, Any] = {
    "asr_judge": AsrJudgeChoice.NONE,
    "speaker_judge": SpeakerJudgeChoice.NONE,
}


def _undeclared() -> Rewrite:
    def hide(body: dict[str, Any]) -> None:
        for name in ("transcribe", "openai_transcriptions"):
            body["capabilities"].pop(name, None)

    return edit_health(hide)


def test_served_but_undeclared_endpoints_are_checked_and_say_so() -> None:
    with provider(_undeclared()) as url:
        results = run_suite(url, only=TRANSCRIPTION, **NO_JUDGES)
    assert {k: v.verdict for k, v in results.items()} == dict.fromkeys(results, Verdict.PASS)
    for case in results.values():
        assert "found by probing" in (case.reason or ""), case.id


def test_endpoints_that_are_not_served_stay_skipped() -> None:
    with provider(_undeclared(), whisper="none") as url:
        results = run_suite(url, only=TRANSCRIPTION, **NO_JUDGES)
    assert {k: v.verdict for k, v in results.items()} == dict.fromkeys(results, Verdict.SKIPPED)
