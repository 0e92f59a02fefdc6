"""The API key reaches no log line and no response, wherever a client puts it."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from reference_server.app import create_app
from reference_server.logredact import redact_url
from tests.server.conftest import make_config, serve
from tests.server.fakes import FakeTranscriber, ProbeBackend, tone_wav

KEY = "sk-planted-6d1f0c9b2e"


def test_redact_url_hides_credential_parameters_and_userinfo() -> None:
    assert redact_url("/v1/generate?api_key=abc&x=1") == "/v1/generate?api_key=REDACTED&x=1"
    assert redact_url("/p?a=1&TOKEN=t;key=k") == "/p?a=1&TOKEN=REDACTED;key=REDACTED"
    assert redact_url("/p?access_token=abc") == "/p?access_token=REDACTED"
    assert redact_url("http://user:pw@host/p") == "http://REDACTED@host/p"
    assert redact_url("/p?monkey=1") == "/p?monkey=1"


def _plant(client: httpx.Client) -> list[httpx.Response]:
    wav = tone_wav()
    wrong = {"X-API-Key": KEY + "-wrong"}
    return [
        client.post("/v1/generate", json={"text": "hi", "voice_prompt": {}}, headers=wrong),
        client.post(
            "/v1/generate",
            json={"text": "hi", "voice_prompt": {}},
            headers={"Authorization": f"Bearer {KEY}x"},
        ),
        client.post(f"/v1/generate?api_key={KEY}", json={"text": "hi", "voice_prompt": {}}),
        client.get(f"/health?key={KEY}&token={KEY}&access_token={KEY}"),
        client.post(
            f"/v1/transcribe?api_key={KEY}",
            files={"audio": ("a.wav", wav, "audio/wav")},
            data={"api_key": KEY},
        ),
        client.post(
            "/v1/generate",
            json={"text": "hi", "voice_prompt": {"api_key": KEY}, "api_key": KEY},
            headers={"X-API-Key": KEY},
        ),
        client.post(
            "/v1/create_voice_prompt",
            files={"audio": ("a.wav", wav, "audio/wav")},
            data={"reference_text": "hi", "api_key": KEY, "token": KEY},
            headers={"X-API-Key": KEY},
        ),
        client.post(
            "/v1/audio/transcriptions",
            files={"file": ("a.wav", wav, "audio/wav")},
            data={"model": "whisper-1", "api_key": KEY},
            headers={"Authorization": f"Bearer {KEY}"},
        ),
        client.post(
            f"/v1/audio/transcriptions?api_key={KEY}",
            files={"file": ("a.wav", b"not audio " + KEY.encode(), "audio/wav")},
            data={"model": "whisper-1"},
            headers={"Authorization": f"Bearer {KEY}"},
        ),
        client.get(f"/nowhere/{'x'}?api_key={KEY}"),
    ]


@pytest.mark.slow
def test_a_key_planted_everywhere_reaches_no_log_line_and_no_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(
        make_config(api_key=KEY),
        tts_factory=ProbeBackend,
        transcriber_factory=FakeTranscriber,
    )
    with (
        caplog.at_level(logging.DEBUG),
        serve(app, access_log=True) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        responses = _plant(client)
    assert any(record.name == "uvicorn.access" for record in caplog.records), "no access log"
    assert sum("api_key=REDACTED" in record.getMessage() for record in caplog.records) >= 3
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    for record in server_side:
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        assert KEY not in text, f"{record.name}: {text}"
    for response in responses:
        assert KEY not in response.text, response.request.url
        assert KEY not in str(response.headers), response.request.url
    # 400: OpenAI's endpoints answer an undecodable file so (OAI-10).
    assert {r.status_code for r in responses} <= {200, 400, 401, 404, 413, 415, 422}
