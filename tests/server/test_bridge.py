"""The openai-speech bridge: Voicebox requests to an OpenAI-compatible speech server and back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from orchestration.processes import wait_healthy
from reference_server.app import create_app
from reference_server.backends.base import (
    BackendError,
    GenerateJob,
    StreamingTTSBackend,
    UpstreamUnavailableError,
)
from reference_server.backends.openai_speech import (
    BridgeSettings,
    OpenAISpeechBackend,
    StreamingOpenAISpeechBackend,
)
from reference_server.backends.openai_speech.health import UpstreamHealth, health_url
from reference_server.backends.registry import BackendSettings, create_tts_backend
from tests.server.conftest import make_config
from tests.server.fakes import tone_wav
from voicebox_api import STREAM_MEDIA_TYPE, StreamAudio, StreamDecoder

UPSTREAM = "http://upstream.invalid/v1"
PCM = (np.sin(np.arange(12_000) / 24_000 * 2 * np.pi * 220) * 8000).astype("<i2").tobytes()

Handler = Callable[[httpx.Request], httpx.Response]


def _bridge(handler: Handler, **settings: object) -> OpenAISpeechBackend:
    options = BridgeSettings(upstream=UPSTREAM, **settings)  # type: ignore[arg-type]
    return OpenAISpeechBackend(options, transport=httpx.MockTransport(handler))


def _voice(bridge: OpenAISpeechBackend, seconds: float = 2.0, rate: int = 16_000) -> object:
    noise = np.random.default_rng(1).uniform(-0.3, 0.3, int(seconds * rate)).astype(np.float32)
    prompt = json.loads(json.dumps(bridge.create_voice_prompt(noise, rate, "a reference")))
    return bridge.parse_voice_prompt(prompt)


def _job(bridge: OpenAISpeechBackend, seed: int | None = 7) -> GenerateJob:
    return GenerateJob(text="Hello.", voice=_voice(bridge), language="en", seed=seed)


def test_a_job_becomes_one_speech_request() -> None:
    seen: list[dict[str, object]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/audio/speech"
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=PCM)

    bridge = _bridge(upstream)
    (synthesis,) = bridge.generate([_job(bridge)])
    assert synthesis.sample_rate == 24_000
    assert synthesis.samples.size == len(PCM) // 2
    body = seen[0]
    assert body["response_format"] == "pcm"
    assert body["language"] == "English"
    assert body["seed"] == 7
    assert body["ref_text"] == "a reference"
    assert str(body["ref_audio"]).startswith("data:audio/flac;base64,")


def test_seeds_are_dropped_on_request_and_then_not_deterministic() -> None:
    bodies: list[dict[str, object]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, content=PCM)

    bridge = _bridge(upstream, forward_seed=False, deterministic=True)
    bridge.generate([_job(bridge)])
    assert "seed" not in bodies[0]
    assert bridge.deterministic is False


def test_a_long_reference_stays_within_vp9() -> None:
    bridge = _bridge(lambda r: httpx.Response(200, content=PCM))
    noise = np.random.default_rng(2).uniform(-0.5, 0.5, 60 * 44_100).astype(np.float32)
    prompt = bridge.create_voice_prompt(noise, 44_100, "long")
    assert len(json.dumps(prompt)) <= 1024 * 1024
    assert prompt["ref_audio"]["format"] in ("flac", "ogg")


@pytest.mark.parametrize(
    ("answer", "retry_after"),
    [
        (httpx.Response(503, headers={"Retry-After": "7"}, text="engine dead /opt/x.py"), 7),
        (httpx.Response(429), 5),
        (httpx.Response(500, text="Traceback (most recent call last)"), 5),
        (httpx.Response(200, content=b"odd"), 5),
    ],
)
def test_upstream_failures_are_unavailable(answer: httpx.Response, retry_after: int) -> None:
    bridge = _bridge(lambda r: answer)
    with pytest.raises(UpstreamUnavailableError) as raised:
        bridge.generate([_job(bridge)])
    assert raised.value.retry_after_s == retry_after
    assert "Traceback" not in str(raised.value)
    assert "/opt" not in str(raised.value)


def test_an_unreachable_upstream_is_unavailable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    bridge = _bridge(down)
    with pytest.raises(UpstreamUnavailableError):
        bridge.generate([_job(bridge)])


def test_a_refusal_is_the_requests_fault() -> None:
    bridge = _bridge(lambda r: httpx.Response(400, json={"error": {"message": "bad"}}))
    with pytest.raises(BackendError, match="HTTP 400"):
        bridge.generate([_job(bridge)])


def test_a_batch_goes_upstream_concurrently() -> None:
    bridge = _bridge(lambda r: httpx.Response(200, content=PCM), concurrency=3)
    results = bridge.generate([_job(bridge, seed=s) for s in range(3)])
    assert len(results) == 3


def test_the_registry_builds_it_from_backend_options() -> None:
    backend = create_tts_backend(
        "openai-speech", BackendSettings(options={"upstream": UPSTREAM, "deterministic": "true"})
    )
    assert backend.deterministic is True
    backend.close()
    with pytest.raises(ValueError, match="upstream"):
        create_tts_backend("openai-speech", BackendSettings(options={}))


def _settled_health(client: TestClient, timeout_s: float = 10.0) -> httpx.Response:
    """``/health`` once the bridge has looked at its upstream (``loading`` until then)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get("/health")
        if response.json()["status"] != "loading" or time.monotonic() > deadline:
            return response
        time.sleep(0.01)


@pytest.fixture
def down_bridge_app() -> Iterator[TestClient]:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app = create_app(
        make_config(), tts_factory=lambda: _bridge(down), transcriber_factory=lambda: None
    )
    with TestClient(app) as client:
        yield client


def test_a_down_upstream_makes_the_bridge_unhealthy_and_generate_503(
    down_bridge_app: TestClient,
) -> None:
    health = _settled_health(down_bridge_app)
    assert health.status_code == 503
    assert health.json()["status"] == "unhealthy"
    assert health.headers["retry-after"]
    prompt = down_bridge_app.post(
        "/v1/create_voice_prompt",
        files={"audio": ("ref.wav", tone_wav(), "audio/wav")},
        data={"reference_text": "a tone"},
    ).json()["voice_prompt"]
    response = down_bridge_app.post("/v1/generate", json={"text": "Hi.", "voice_prompt": prompt})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "refused" not in response.text


def test_an_upstream_that_answers_makes_the_bridge_healthy() -> None:
    app = create_app(
        make_config(),
        tts_factory=lambda: _bridge(lambda r: httpx.Response(200, json={"status": "healthy"})),
        transcriber_factory=lambda: None,
    )
    with TestClient(app) as client:
        wait_healthy(client, timeout_s=10)
        assert _settled_health(client).json()["status"] == "healthy"


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (httpx.Response(200, json={"status": "healthy"}), "healthy"),
        (httpx.Response(200, json={"status": "degraded"}), "degraded"),
        (httpx.Response(404), "healthy"),
        (httpx.Response(429), "degraded"),
        (httpx.Response(503, json={"status": "loading"}), "loading"),
        (httpx.Response(503, text="down"), "unhealthy"),
        (httpx.Response(500), "unhealthy"),
    ],
)
def test_the_upstreams_answer_maps_to_a_status(answer: httpx.Response, status: str) -> None:
    paths: list[str] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return answer

    bridge = _bridge(upstream)
    assert bridge.upstream_health.refresh() == status
    assert paths == ["/health"]  # at the origin, not under /v1
    bridge.close()


def test_health_is_cached_and_refreshed_in_the_background() -> None:
    now = [0.0]
    probes: list[str] = []
    up = [True]

    def upstream(request: httpx.Request) -> httpx.Response:
        probes.append(request.url.path)
        if not up[0]:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200)

    client = httpx.Client(transport=httpx.MockTransport(upstream))
    health = UpstreamHealth(client, health_url(UPSTREAM), ttl_s=5.0, clock=lambda: now[0])
    assert health.status() == "loading"  # never waits: the first probe runs behind it
    health.wait_idle(5)
    assert health.status() == "healthy"
    up[0] = False
    now[0] = 4.0
    assert health.status() == "healthy"  # still fresh: no probe
    assert len(probes) == 1
    now[0] = 5.0
    health.status()  # stale: probes in the background
    health.wait_idle(5)
    assert health.status() == "unhealthy"
    assert len(probes) == 2


def test_a_refused_generation_marks_the_upstream_unhealthy_at_once() -> None:
    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200)
        raise httpx.ConnectError("refused", request=request)

    bridge = _bridge(upstream, health_ttl_s=3600.0)
    assert bridge.upstream_health.refresh() == "healthy"
    with pytest.raises(UpstreamUnavailableError):
        bridge.generate([_job(bridge)])
    assert bridge.health_status() == "unhealthy"
    bridge.close()


def test_health_urls_sit_at_the_origin() -> None:
    assert health_url("http://gpu:8091/v1") == "http://gpu:8091/health"
    assert health_url("http://gpu:8091/v1/") == "http://gpu:8091/health"
    assert health_url("http://gpu/proxy") == "http://gpu/proxy/health"


# --- streaming through the bridge ---------------------------------------------------------------


def _streaming_bridge(handler: Handler) -> StreamingOpenAISpeechBackend:
    options = BridgeSettings(upstream=UPSTREAM)
    return StreamingOpenAISpeechBackend(options, transport=httpx.MockTransport(handler))


def _odd_chunks(data: bytes) -> Iterator[bytes]:
    yield from (data[i : i + 1001] for i in range(0, len(data), 1001))  # splits samples


def test_a_stream_is_one_upstream_stream_of_whole_samples() -> None:
    bodies: list[dict[str, object]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, content=_odd_chunks(PCM))

    bridge = _streaming_bridge(upstream)
    pieces = list(bridge.stream(_job(bridge)))
    assert len(pieces) > 1
    assert {p.sample_rate for p in pieces} == {24_000}
    joined = np.concatenate([p.samples for p in pieces])
    assert joined.tobytes() == bridge.generate([_job(bridge)])[0].samples.tobytes()
    assert bodies[0]["stream"] is True
    assert bodies[0]["stream_format"] == "audio"
    assert "stream" not in bodies[1]


def test_a_stream_that_splits_its_last_sample_is_malformed() -> None:
    bridge = _streaming_bridge(lambda r: httpx.Response(200, content=iter([PCM[:101]])))
    with pytest.raises(UpstreamUnavailableError, match="malformed"):
        list(bridge.stream(_job(bridge)))


def _bridged_app(handler: Handler) -> TestClient:
    return TestClient(
        create_app(
            make_config(),
            tts_factory=lambda: _streaming_bridge(handler),
            transcriber_factory=lambda: None,
        )
    )


def _prompt(client: TestClient) -> dict[str, object]:
    response = client.post(
        "/v1/create_voice_prompt",
        files={"audio": ("ref.wav", tone_wav(), "audio/wav")},
        data={"reference_text": "a tone"},
    )
    assert response.status_code == 200, response.text
    prompt: dict[str, object] = response.json()["voice_prompt"]
    return prompt


def test_generate_streams_through_the_bridge_in_frames() -> None:
    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200)
        return httpx.Response(200, content=_odd_chunks(PCM))

    with _bridged_app(upstream) as client:
        wait_healthy(client, timeout_s=10)
        assert client.get("/health").json()["capabilities"]["streaming"] is True
        body = {"text": "Hi.", "voice_prompt": _prompt(client), "seed": 1}
        response = client.post("/v1/generate", json=body, headers={"Accept": STREAM_MEDIA_TYPE})
        assert response.status_code == 200
        decoder = StreamDecoder()
        chunks = decoder.feed(response.content)
        decoder.finish()
    samples = np.concatenate([c.samples for c in chunks if isinstance(c, StreamAudio)])
    expected = np.frombuffer(PCM, dtype="<i2").astype(np.float32) / 32768.0
    assert samples.tobytes() == expected.tobytes()


def test_an_upstream_503_before_the_first_byte_keeps_its_status() -> None:
    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200)
        return httpx.Response(503, headers={"Retry-After": "9"}, text="/opt/engine.py died")

    with _bridged_app(upstream) as client:
        wait_healthy(client, timeout_s=10)
        body = {"text": "Hi.", "voice_prompt": _prompt(client)}
        response = client.post("/v1/generate", json=body, headers={"Accept": STREAM_MEDIA_TYPE})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "9"
    assert "/opt" not in response.text


def test_streaming_is_the_default_and_can_be_turned_off() -> None:
    on = create_tts_backend("openai-speech", BackendSettings(options={"upstream": UPSTREAM}))
    off = create_tts_backend(
        "openai-speech", BackendSettings(options={"upstream": UPSTREAM, "stream": "false"})
    )
    assert isinstance(on, StreamingTTSBackend)
    assert not isinstance(off, StreamingTTSBackend)
    on.close()
    off.close()
