"""Against real sockets on 127.0.0.1: refused and unanswered connections, read timeouts, and
connect and read timeouts acting separately. Sleeping between retries is faked; network
waits are real but bounded (well under a second each)."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.client.conftest import Harness, LoopbackServer, generate_body, settings
from voicebox_api import Exchange, ProviderConnectionError, ProviderTimeoutError, RetryPolicy


def _client_options(url: str, **timeouts: float) -> dict[str, object]:
    return {"settings": settings(tts_remote_url=url, **timeouts)}


def test_a_refused_connection_is_retried_then_raised(
    harness: Harness, closed_port_url: str
) -> None:
    with pytest.raises(ProviderConnectionError) as caught:
        harness.call(None, "generate", "Hi.", {}, client_options=_client_options(closed_port_url))
    assert caught.value.attempts == 4
    assert len(harness.sleeps) == 3
    assert [type(e.error) for e in harness.exchanges] == [httpx.ConnectError] * 4
    assert "could not connect" in caught.value.message
    assert caught.value.curl.text.startswith(f"curl -i {closed_port_url}/v1/generate")


def test_an_unanswered_connection_times_out_in_the_connect_phase_and_is_retried(
    harness: Harness, unanswered_port_url: str
) -> None:
    options = _client_options(unanswered_port_url, connect_timeout=0.2)
    options["retry"] = RetryPolicy(max_attempts=2)
    with pytest.raises((ProviderTimeoutError, ProviderConnectionError)) as caught:
        harness.call(None, "health", client_options=options)
    error = caught.value
    if not isinstance(error, ProviderTimeoutError):
        pytest.skip("this kernel refuses, rather than ignores, connections to a full queue")
    assert error.phase == "connect"
    assert error.attempts == 2
    assert len(harness.sleeps) == 1
    assert "connect timeout after 0.2 s" in error.message


def test_a_read_timeout_is_raised_and_not_retried(
    harness: Harness, loopback: LoopbackServer
) -> None:
    loopback.hold = True  # the provider never answers until the test ends
    options = _client_options(loopback.url, connect_timeout=5.0, read_timeout=0.2)
    with pytest.raises(ProviderTimeoutError) as caught:
        harness.call(None, "generate", "Hi.", {}, client_options=options)
    error = caught.value
    assert error.phase == "read"
    assert error.attempts == 1
    assert "read timeout after 0.2 s" in error.message
    assert "not retried" in error.message
    assert len(loopback.received) == 1
    assert harness.sleeps == []


def test_a_slow_answer_within_the_read_timeout_is_not_cut_by_the_connect_timeout(
    harness: Harness, loopback: LoopbackServer
) -> None:
    loopback.reply_json(200, generate_body())
    loopback.hold = True
    release = threading.Timer(0.5, loopback.release.set)
    release.start()
    options = _client_options(loopback.url, connect_timeout=0.1, read_timeout=10.0)
    result = harness.call(None, "generate", "Hi.", {}, client_options=options)
    release.join()
    assert result.audio.sample_rate == 24000
    (exchange,) = harness.exchanges
    assert exchange.elapsed_s > 0.1  # the wait exceeded the connect timeout, and was allowed


def test_timeouts_reach_httpx_separately(harness: Harness, loopback: LoopbackServer) -> None:
    loopback.reply_json(200, {"status": "healthy", "model": "m", "device": "cpu"})
    options = _client_options(
        loopback.url, connect_timeout=1.5, read_timeout=42.0, write_timeout=7.0, pool_timeout=3.0
    )
    harness.call(None, "health", client_options=options)
    (exchange,) = harness.exchanges
    assert exchange.request.extensions["timeout"] == {
        "connect": 1.5,
        "read": 42.0,
        "write": 7.0,
        "pool": 3.0,
    }


def test_all_endpoints_over_real_http(harness: Harness, loopback: LoopbackServer) -> None:
    loopback.reply_json(200, generate_body())
    result = harness.call(
        None, "generate", "Hi.", {"v": 1}, client_options=_client_options(loopback.url)
    )
    assert result.audio.num_samples == 2400
    loopback.reply_json(200, {"voice_prompt": {"v": 1}})
    prompt = harness.call(
        None, "create_voice_prompt", b"RIFF", "ref", client_options=_client_options(loopback.url)
    )
    assert prompt.voice_prompt == {"v": 1}
    assert [r.path for r in loopback.received] == ["/v1/generate", "/v1/create_voice_prompt"]
    assert all(isinstance(e, Exchange) and e.response is not None for e in harness.exchanges)
