"""The connection test: each failure class and its exit code, on fake providers."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.pool.fakes import FakeProvider
from voicebox_api import STREAM_MEDIA_TYPE
from voicebox_api.ping import main, ping, render

URL = "http://gpu.test:8000"


def transport(provider: FakeProvider, key: str | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if key and "/v1/" in request.url.path and request.headers.get("x-api-key") != key:
            return httpx.Response(401, json={"detail": "bad key"})
        return provider.handle(request)

    return httpx.MockTransport(handle)


def test_a_good_provider_passes_with_timings() -> None:
    report = ping(URL, "k", transport=transport(FakeProvider("gpu.test"), key="k"))
    assert (report.verdict, report.exit_code, report.key) == ("ok", 0, "accepted")
    assert report.generation is not None
    assert report.generation.audio_seconds == pytest.approx(0.1)
    assert report.generation.total_ms >= report.generation.ttfb_ms
    assert report.api_version == "0.2"
    assert report.ttfp_ms is None
    assert "skipped" in report.ttfp_note
    assert "verdict: OK" in render(report)


@pytest.mark.parametrize(("key", "expected"), [("wrong", "rejected"), (None, "required")])
def test_a_rejected_key_exits_4(key: str | None, expected: str) -> None:
    report = ping(URL, key, transport=transport(FakeProvider("gpu.test"), key="k"))
    assert (report.verdict, report.exit_code, report.key) == ("auth_rejected", 4, expected)


@pytest.mark.parametrize("status", ["loading", "unhealthy"])
def test_not_ready_exits_5(status: str) -> None:
    report = ping(URL, transport=transport(FakeProvider("gpu.test", status=status)))
    assert (report.verdict, report.exit_code, report.health_status) == ("not_ready", 5, status)


def test_invalid_audio_exits_6() -> None:
    def bad_audio(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/v1/generate"):
            return httpx.Response(200, json={"audio": "A", "sample_rate": 24000, "dtype": "int16"})
        return None

    report = ping(URL, transport=transport(FakeProvider("gpu.test", fail=bad_audio)))
    assert (report.verdict, report.exit_code) == ("generation_failed", 6)
    assert "invalid audio" in report.detail


def test_unreachable_exits_3() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    report = ping(URL, transport=httpx.MockTransport(refuse))
    assert (report.verdict, report.exit_code) == ("unreachable", 3)


def test_something_else_exits_7() -> None:
    report = ping(URL, transport=httpx.MockTransport(lambda r: httpx.Response(200, text="hi")))
    assert (report.verdict, report.exit_code) == ("not_a_provider", 7)


def test_first_packet_lights_up_with_streaming() -> None:
    report = ping(URL, transport=transport(FakeProvider("gpu.test", streaming=True)))
    assert report.ttfp_ms is not None
    assert report.ttfp_note == ""
    assert report.verdict == "ok"
    assert "first packet" in render(report)


def test_a_broken_stream_is_noted_not_fatal() -> None:
    def json_stream(request: httpx.Request) -> httpx.Response | None:
        if request.headers.get("accept") == STREAM_MEDIA_TYPE:
            return httpx.Response(200, json={"detail": "not a stream"})
        return None

    provider = FakeProvider("gpu.test", streaming=True, fail=json_stream)
    report = ping(URL, transport=transport(provider))
    assert report.ttfp_ms is None
    assert report.ttfp_note == "streaming failed: BrokenStreamError"
    assert report.verdict == "ok"


def test_cli_json_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http://127.0.0.1:9", "--json", "--budget", "1"]) == 3
    assert json.loads(capsys.readouterr().out)["exit_code"] == 3
    with pytest.raises(SystemExit) as usage:
        main([])
    assert usage.value.code == 2
