"""POST /v1/audio/transcriptions as OpenAI documents it (SPEC.md §12)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import Harness
from tests.server.fakes import tone_wav
from voicebox_api import OpenAIErrorEnvelope, OpenAITranscription, OpenAIVerboseTranscription

URL = "/v1/audio/transcriptions"


def _post(harness: Harness, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    files = kwargs.pop("files", {"file": ("clip.wav", tone_wav(seconds=2.0), "audio/wav")})
    return harness.client.post(
        URL, files=files, data={"model": "whisper-1", **(data or {})}, **kwargs
    )


def _envelope(response: Any, status: int, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = OpenAIErrorEnvelope.model_validate_json(response.content).error
    assert error.message
    if param is not None:
        assert error.param == param
    return error.model_dump()


def test_json_is_the_default(harness: Harness) -> None:
    response = _post(harness)
    assert response.status_code == 200
    assert OpenAITranscription.model_validate_json(response.content).text == "hello world"


def test_text(harness: Harness) -> None:
    response = _post(harness, {"response_format": "text"})
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.strip() == "hello world"


def test_verbose_json_with_words(harness: Harness) -> None:
    response = _post(
        harness,
        {"response_format": "verbose_json", "timestamp_granularities[]": ["word", "segment"]},
    )
    body = OpenAIVerboseTranscription.model_validate_json(response.content)
    assert body.task == "transcribe"
    assert body.duration == pytest.approx(2.0)
    assert [s.start for s in body.segments] == sorted(s.start for s in body.segments)
    assert all(s.end <= body.duration + 1e-6 for s in body.segments)
    assert body.words is not None
    assert harness.transcriber is not None
    assert harness.transcriber.calls[-1]["word_timestamps"] is True


@pytest.mark.parametrize(("fmt", "first_line"), [("srt", "1"), ("vtt", "WEBVTT")])
def test_subtitles(harness: Harness, fmt: str, first_line: str) -> None:
    response = _post(harness, {"response_format": fmt})
    assert response.status_code == 200
    assert response.text.splitlines()[0] == first_line
    assert "-->" in response.text


def test_optional_fields_reach_the_backend(harness: Harness) -> None:
    response = _post(harness, {"language": "de", "prompt": "Namen: Jörg", "temperature": "0.2"})
    assert response.status_code == 200
    assert harness.transcriber is not None
    call = harness.transcriber.calls[-1]
    assert (call["language"], call["prompt"], call["temperature"]) == ("de", "Namen: Jörg", 0.2)


def test_empty_optional_fields_mean_absent(harness: Harness) -> None:
    assert _post(harness, {"language": "", "prompt": ""}).status_code == 200


def test_missing_file_is_400_in_the_envelope(harness: Harness) -> None:
    response = harness.client.post(
        URL, data={"model": "whisper-1"}, files={"x": ("a", b"a", "text/plain")}
    )
    error = _envelope(response, 400, "file")
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"response_format": "xml"}, "response_format"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": "1.5"}, "temperature"),
        ({"language": "english"}, "language"),
        ({"language": "xx"}, "language"),
    ],
)
def test_invalid_fields_are_400_naming_the_param(
    harness: Harness, data: dict[str, Any], param: str
) -> None:
    _envelope(_post(harness, data), 400, param)


def test_missing_model_is_400(harness: Harness) -> None:
    response = harness.client.post(URL, files={"file": ("a.wav", tone_wav(), "audio/wav")})
    _envelope(response, 400, "model")


def test_undecodable_file_is_400_invalid_request_error(harness: Harness) -> None:
    """As OpenAI answers it (OAI-10); the Voicebox endpoints keep their 415 (TRN-5, VP-5)."""
    response = _post(harness, files={"file": ("a.wav", b"\x00" * 1000, "audio/wav")})
    assert _envelope(response, 400, "file")["type"] == "invalid_request_error"


def test_disabled_transcription_is_404_in_the_envelope(make_harness: Any) -> None:
    harness = make_harness(transcriber=None)
    _envelope(_post(harness), 404)
