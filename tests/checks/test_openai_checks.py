"""OAI-3 and OAI-6 as a real Whisper server meets them (findings of issue 10)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conformance.checks import openai
from conformance.engine.outcome import Failed
from tests.checks.fakes import json_answer, session_over

OPENAI_ONLY: dict[str, Any] = {
    "whisper_mode": "openai-api",
    "openai_base_url": "http://openai.test/v1",
}


def _verbose(*segments: tuple[float, float], task: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "language": "english",
        "duration": 3.27,
        "text": "Turn off the lights.",
        "segments": [
            {"id": i, "start": start, "end": end, "text": "Turn off the lights."}
            for i, (start, end) in enumerate(segments)
        ],
    }
    if task:
        body["task"] = "transcribe"
    return body


def _answering(body: dict[str, Any]) -> Any:
    return session_over(lambda request: json_answer(200, body), **OPENAI_ONLY)


def test_a_segment_may_end_past_the_clip_as_whisper_timestamps_do() -> None:
    """A real server answered 0.00-4.00 s for a 3.27 s clip (faster-whisper issue #1334)."""
    openai.verbose_json_has_ordered_segments(_answering(_verbose((0.0, 4.0))))


def test_task_may_be_absent_as_the_sdk_type_allows() -> None:
    openai.verbose_json_has_ordered_segments(_answering(_verbose((0.0, 2.0), task=False)))


@pytest.mark.parametrize("segments", [[(2.0, 1.0)], [(1.0, 2.0), (0.5, 3.0)]])
def test_segments_out_of_order_fail(segments: list[tuple[float, float]]) -> None:
    with pytest.raises(Failed):
        openai.verbose_json_has_ordered_segments(_answering(_verbose(*segments)))


def test_the_missing_file_request_is_multipart_without_a_file_part() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        error = {"message": "file is required", "type": "invalid_request_error"}
        return json_answer(400, {"error": {**error, "param": "file", "code": None}})

    openai.errors_use_the_openai_envelope(session_over(handler, **OPENAI_ONLY))
    missing_file = sent[0]
    assert missing_file.headers["content-type"].startswith("multipart/form-data")
    body = missing_file.read()
    assert b'name="model"' in body
    assert b'name="file"' not in body
