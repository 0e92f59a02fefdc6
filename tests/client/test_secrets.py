"""API keys never leak: not in an error's str or repr, a traceback, a curl command, the client's
or the settings' repr, nor in any log line (httpx and httpcore at DEBUG included)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest

from tests.client.conftest import Harness, LoopbackServer, Recorder, json_response, settings
from voicebox_api import (
    AsyncProviderClient,
    AuthenticationError,
    ProtocolError,
    ProviderClient,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeoutError,
    RateLimitedError,
    Settings,
)

TTS_KEY = "tts-SECRET-zq7x-4711"
OPENAI_KEY = "sk-SECRET-openai-9q2w"
SECRETS = (TTS_KEY, OPENAI_KEY, "SECRET")


def _secret_settings(**overrides: object) -> Settings:
    return settings(tts_api_key=TTS_KEY, openai_api_key=OPENAI_KEY, **overrides)


def _echo(status: int) -> Callable[[httpx.Request], httpx.Response]:
    """A careless provider that echoes the credentials it got in its error body."""

    def handler(request: httpx.Request) -> httpx.Response:
        credentials = request.headers.get("x-api-key") or request.headers.get("authorization")
        return json_response(status, {"detail": f"key {credentials} refused"})

    return handler


def _texts_of(error: ProviderError) -> list[str]:
    return [
        str(error),
        repr(error),
        error.message,
        repr(error.args),
        error.curl.text,
        repr(error.curl),
        "".join(traceback.format_exception(error)),
    ]


def _assert_clean(texts: list[str]) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


CASES: list[tuple[str, object, str, tuple[object, ...], type[ProviderError]]] = [
    ("401", _echo(401), "generate", ("Hi.", {}), AuthenticationError),
    ("401-openai", _echo(401), "transcriptions", (b"RIFF",), AuthenticationError),
    ("429-exhausted", _echo(429), "generate", ("Hi.", {}), RateLimitedError),
    ("500", _echo(500), "create_voice_prompt", (b"RIFF", "text"), ProviderHTTPError),
    ("500-openai", _echo(500), "transcriptions", (b"RIFF",), ProviderHTTPError),
    (
        "protocol",
        Recorder(json_response(200, {"audio": TTS_KEY, "sample_rate": 8000, "dtype": "int16"})),
        "generate",
        ("Hi.", {}),
        ProtocolError,
    ),
    (
        "protocol-echo",
        Recorder(json_response(200, {"audio": "AAAA", "sample_rate": TTS_KEY, "dtype": "int16"})),
        "generate",
        ("Hi.", {}),
        ProtocolError,
    ),
    (
        "timeout-quoting-the-key",  # no httpx message quotes a header; this proves it is moot
        Recorder(httpx.ReadTimeout(f"timed out {TTS_KEY}")),
        "transcribe",
        (b"R",),
        ProviderTimeoutError,
    ),
]


Case = tuple[
    str, Callable[[httpx.Request], httpx.Response], str, tuple[object, ...], type[ProviderError]
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_no_error_path_leaks_a_key(
    harness: Harness, caplog: pytest.LogCaptureFixture, case: Case
) -> None:
    _, handler, method, args, error_type = case
    caplog.set_level(logging.DEBUG)
    with pytest.raises(error_type) as caught:
        harness.call(handler, method, *args, client_options={"settings": _secret_settings()})
    _assert_clean([*_texts_of(caught.value), caplog.text])
    assert "***" in caught.value.curl.text  # the key was sent, and is shown redacted


def test_a_refused_connection_leaks_no_key(
    harness: Harness, caplog: pytest.LogCaptureFixture, closed_port_url: str
) -> None:
    caplog.set_level(logging.DEBUG)
    options = {"settings": _secret_settings(tts_remote_url=closed_port_url)}
    with pytest.raises(ProviderConnectionError) as caught:
        harness.call(None, "generate", "Hi.", {}, client_options=options)
    _assert_clean([*_texts_of(caught.value), caplog.text])


def test_a_real_read_timeout_leaks_no_key(
    harness: Harness, caplog: pytest.LogCaptureFixture, loopback: LoopbackServer
) -> None:
    caplog.set_level(logging.DEBUG)
    loopback.hold = True
    options = {"settings": _secret_settings(tts_remote_url=loopback.url, read_timeout=0.2)}
    with pytest.raises(ProviderTimeoutError) as caught:
        harness.call(None, "generate", "Hi.", {}, client_options=options)
    _assert_clean([*_texts_of(caught.value), caplog.text])
    assert loopback.received[0].headers["x-api-key"] == TTS_KEY  # it was really sent


def test_a_successful_exchange_logs_no_key(
    harness: Harness, caplog: pytest.LogCaptureFixture, loopback: LoopbackServer
) -> None:
    caplog.set_level(logging.DEBUG)
    loopback.reply_json(200, {"text": "ok"})
    options = {"settings": _secret_settings(tts_remote_url=loopback.url)}
    harness.call(None, "transcribe", b"RIFF", client_options=options)
    assert "voicebox_api._client" in caplog.text or "httpx" in caplog.text  # logging happened
    _assert_clean([caplog.text, *(repr(e) for e in harness.exchanges)])


def test_clients_and_settings_hide_keys() -> None:
    s = _secret_settings()
    with ProviderClient(settings=s) as sync_client:
        texts = [repr(s), str(s), repr(sync_client), str(sync_client)]
    async_client = AsyncProviderClient(settings=s)
    texts += [repr(async_client), str(async_client)]
    _assert_clean(texts)
    assert "keys=['tts', 'openai']" in repr(async_client)


def test_a_key_sent_in_the_low_level_request_headers_is_redacted_in_curl() -> None:
    with ProviderClient(settings=_secret_settings()) as client:
        request = httpx.Request("GET", "http://h/x", headers={"X-Custom-Token": TTS_KEY})
        assert TTS_KEY not in client.curl(request).text
