"""API keys (SPEC.md §2, OAI-8): X-API-Key or Bearer on /v1/, /health open, the key never logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.server.conftest import Harness
from tests.server.fakes import FakeTranscriber, tone_wav

KEY = "s3cret-key-ü"


@pytest.fixture
def keyed(make_harness: Any) -> Harness:
    harness: Harness = make_harness(api_key=KEY, transcriber=FakeTranscriber())
    return harness


def _generate(harness: Harness, headers: dict[str, Any]) -> Any:
    prompt = harness.prompt()
    return harness.client.post(
        "/v1/generate", json={"text": "hi", "voice_prompt": prompt}, headers=headers
    )


RAW = KEY.encode("utf-8")
"""Header values are bytes on the wire; a non-ASCII key travels as its UTF-8 bytes."""


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "wrong"},
        {"X-API-Key": ""},
        {"Authorization": "Bearer wrong"},
        {"Authorization": b"Basic " + RAW},
        {"X-API-Key": "wrong", "Authorization": b"Bearer " + RAW},
        {"X-API-Key": RAW, "Authorization": "Bearer wrong"},
    ],
)
def test_missing_or_wrong_key_is_401(keyed: Harness, headers: dict[str, Any]) -> None:
    for path in ("/v1/generate", "/v1/create_voice_prompt", "/v1/transcribe"):
        response = keyed.client.post(path, headers=headers)
        assert response.status_code == 401, (path, response.text)
        body = response.json()
        assert body["code"] == "invalid_api_key"
        assert isinstance(body["detail"], str)
        assert "www-authenticate" in response.headers
        assert KEY not in response.text


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
def test_right_key_is_accepted_either_way(keyed: Harness, header: str) -> None:
    value = RAW if header == "X-API-Key" else b"Bearer " + RAW
    assert _generate(keyed, {header: value}).status_code == 200


def test_health_metrics_and_openapi_stay_open(keyed: Harness) -> None:
    for path in ("/health", "/metrics", "/openapi.json"):
        assert keyed.client.get(path).status_code == 200


def test_openai_endpoint_wants_a_bearer_token(keyed: Harness) -> None:
    url = "/v1/audio/transcriptions"
    files = {"file": ("a.wav", tone_wav(), "audio/wav")}
    data = {"model": "whisper-1"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-API-Key": RAW}):
        response = keyed.client.post(url, files=files, data=data, headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "invalid_api_key"
    ok = keyed.client.post(url, files=files, data=data, headers={"Authorization": b"Bearer " + RAW})
    assert ok.status_code == 200, ok.text


def test_the_key_is_never_logged(make_harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        harness: Harness = make_harness(api_key=KEY)
        _generate(harness, {"X-API-Key": RAW})
        harness.client.post("/v1/generate", headers={"X-API-Key": RAW + b"x"})
    assert KEY not in caplog.text
    assert RAW.decode("latin-1") not in caplog.text


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch, keyed: Harness) -> None:
    import hmac

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("reference_server.auth.hmac.compare_digest", spy)
    keyed.client.post("/v1/generate", headers={"X-API-Key": "guess"})
    assert compared == [(b"guess", KEY.encode("utf-8"))]
