"""Every client mistake gets a 4xx in the one error shape; server faults a generic 500."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.server.conftest import Harness
from tests.server.fakes import tone_wav
from voicebox_api import ErrorBody


def _error(response: Any, status: int | tuple[int, ...], code: str | None = None) -> dict[str, Any]:
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    ErrorBody.model_validate(body)
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"text": "a",}', b"\xff\xfe", b"NaN", b'{"text": Infinity}', b"[" * 5000],
)
def test_malformed_json_is_400(harness: Harness, raw: bytes) -> None:
    response = harness.client.post(
        "/v1/generate", content=raw, headers={"content-type": "application/json"}
    )
    _error(response, 400, "invalid_json")


def test_empty_body_is_400(harness: Harness) -> None:
    _error(harness.client.post("/v1/generate", content=b""), 400, "invalid_json")


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        "text",
        {"text": "hi"},
        {"voice_prompt": {}},
        {"text": 5, "voice_prompt": {}},
        {"text": "hi", "voice_prompt": []},
        {"text": "hi", "voice_prompt": {}, "seed": -1},
        {"text": "hi", "voice_prompt": {}, "seed": 2**32},
        {"text": "hi", "voice_prompt": {}, "seed": "5"},
        {"text": "hi", "voice_prompt": {}, "seed": True},
        {"text": "hi", "voice_prompt": {}, "seed": 1.5},
        {"text": "hi", "voice_prompt": {}, "language": "EN"},
        {"text": "hi", "voice_prompt": {}, "language": "english"},
        {"text": "", "voice_prompt": {}},
        {"text": " \n\t ", "voice_prompt": {}},
    ],
)
def test_schema_violations_are_422_with_locations(harness: Harness, body: Any) -> None:
    error = _error(harness.client.post("/v1/generate", json=body), 422, "validation_error")
    assert isinstance(error["detail"], list)
    for issue in error["detail"]:
        assert issue["loc"][0] == "body"
        assert set(issue) == {"loc", "msg", "type"}  # the input is never echoed back


def test_unknown_language_is_422(harness: Harness) -> None:
    body = {"text": "hi", "voice_prompt": harness.prompt(), "language": "xx"}
    _error(harness.client.post("/v1/generate", json=body), 422, "unsupported_language")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: {},
        lambda p: {"some": "thing"},
        lambda p: {**p, "f0_hz": p["f0_hz"] + 1},
        lambda p: {**p, "check": "0" * 16},
        lambda p: {**p, "f0_hz": "140"},
        lambda p: {**p, "extra": 1},
        lambda p: {**p, "kind": "qwen"},
    ],
)
def test_foreign_or_tampered_prompt_is_422(harness: Harness, mangle: Any) -> None:
    body = {"text": "hi", "voice_prompt": mangle(harness.prompt())}
    _error(harness.client.post("/v1/generate", json=body), 422, "invalid_voice_prompt")


def test_text_over_limit_is_413(harness: Harness) -> None:
    body = {"text": "a" * 501, "voice_prompt": harness.prompt()}
    _error(harness.client.post("/v1/generate", json=body), 413, "text_too_long")


def test_wrong_content_type_is_415(harness: Harness) -> None:
    response = harness.client.post(
        "/v1/generate", content=b'{"text": "hi"}', headers={"content-type": "text/plain"}
    )
    _error(response, 415, "unsupported_media_type")


def test_json_body_over_limit_is_413(make_harness: Any) -> None:
    harness = make_harness(max_json_bytes=4096)
    body = {"text": "hi", "voice_prompt": {"padding": "x" * 10_000}}
    _error(harness.client.post("/v1/generate", json=body), 413, "body_too_large")


def test_prompt_creation_errors(harness: Harness) -> None:
    post = harness.client.post
    url = "/v1/create_voice_prompt"
    _error(post(url, files={"audio": ("x.wav", b"RIFF not really", "audio/wav")}), 415)
    _error(post(url, files={"audio": ("x.wav", b"", "audio/wav")}), 400, "empty_upload")
    _error(post(url, files={"other": ("x.wav", tone_wav(), "audio/wav")}), 400, "missing_upload")
    _error(post(url, data={"audio": "not a file"}), 400, "missing_upload")
    text_part = post(url, data={"audio": "text"}, files={"x": ("x", b"x", "text/plain")})
    _error(text_part, 400, "missing_upload")
    _error(post(url), 400, "missing_upload")
    _error(post(url, json={"audio": "x"}), 415, "unsupported_media_type")
    broken = post(
        url,
        content=b"--b\r\nContent-Disposition: form-data; name=audio\r\n\r\nunterminated",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    _error(broken, (400, 422))
    too_short = tone_wav(seconds=0.01)
    _error(post(url, files={"audio": ("x.wav", too_short, "audio/wav")}), 422, "backend_rejected")


def test_upload_over_limit_is_413(make_harness: Any) -> None:
    harness = make_harness(max_upload_bytes=20_000)
    big = tone_wav(seconds=2.0)
    assert len(big) > 20_000
    response = harness.client.post(
        "/v1/create_voice_prompt", files={"audio": ("x.wav", big, "audio/wav")}
    )
    _error(response, 413)


def test_audio_longer_than_limit_is_413(make_harness: Any) -> None:
    harness = make_harness(max_audio_seconds=1.0)
    response = harness.client.post(
        "/v1/create_voice_prompt", files={"audio": ("x.wav", tone_wav(seconds=3.0), "audio/wav")}
    )
    _error(response, 413, "audio_too_long")


def test_transcribe_errors(harness: Harness) -> None:
    post = harness.client.post
    files = {"audio": ("a.wav", tone_wav(), "audio/wav")}
    _error(
        post("/v1/transcribe", files=files, data={"language": "xx"}), 422, "unsupported_language"
    )
    _error(post("/v1/transcribe", files=files, data={"language": "english"}), 422)
    _error(post("/v1/transcribe", files={"audio": ("a.wav", b"junk" * 10, "audio/wav")}), 415)
    _error(post("/v1/transcribe", data={"language": "en"}), 400, "missing_upload")


def test_transcription_disabled_is_404(make_harness: Any) -> None:
    harness = make_harness(transcriber=None)
    files = {"audio": ("a.wav", tone_wav(), "audio/wav")}
    _error(harness.client.post("/v1/transcribe", files=files), 404)


def test_unexpected_exception_is_a_generic_500(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.tts.crash_with = RuntimeError("/srv/secret/model.bin exploded")
    body = {"text": "boom", "voice_prompt": harness.prompt()}
    with caplog.at_level(logging.ERROR):
        response = harness.client.post("/v1/generate", json=body)
    error = _error(response, 500, "internal_error")
    assert "/srv/secret" not in response.text
    assert "Traceback" not in response.text
    assert "exploded" not in response.text
    # The traceback is in the server log, under the request id.
    assert "exploded" in caplog.text
    assert error["request_id"] in caplog.text
    harness.tts.crash_with = None
    assert harness.client.get("/health").status_code == 200
