"""Under load: /health keeps answering, a full queue answers 503 with Retry-After, timeouts 503."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from reference_server.app import create_app
from tests.server.conftest import make_config, serve
from tests.server.fakes import FakeTranscriber, ProbeBackend, tone_wav


def _app(tts: ProbeBackend, **config: Any) -> Any:
    return create_app(
        make_config(**config), tts_factory=lambda: tts, transcriber_factory=FakeTranscriber
    )


def _prompt(client: httpx.Client) -> dict[str, Any]:
    response = client.post(
        "/v1/create_voice_prompt", files={"audio": ("a.wav", tone_wav(), "audio/wav")}
    )
    assert response.status_code == 200
    prompt: dict[str, Any] = response.json()["voice_prompt"]
    return prompt


def test_health_answers_while_generations_are_blocked_and_full_queue_is_503() -> None:
    tts = ProbeBackend()
    with serve(_app(tts, queue_size=2)) as url, httpx.Client(base_url=url, timeout=30) as client:
        prompt = _prompt(client)
        tts.release.clear()  # generations now hang until released
        with ThreadPoolExecutor(max_workers=4) as pool:

            def generate(i: int) -> httpx.Response:
                with httpx.Client(base_url=url, timeout=30) as own:
                    return own.post("/v1/generate", json={"text": f"t{i}", "voice_prompt": prompt})

            running: Future[httpx.Response] = pool.submit(generate, 0)
            assert tts.started.acquire(timeout=10)  # one is in the backend
            queued = [pool.submit(generate, i) for i in (1, 2)]
            deadline = time.monotonic() + 10
            while 'voicebox_queue_depth{queue="tts"} 2.0' not in client.get("/metrics").text:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            # The queue is full: the next one is refused at once, with a Retry-After.
            refused = client.post("/v1/generate", json={"text": "t3", "voice_prompt": prompt})
            assert refused.status_code == 503
            assert refused.json()["code"] == "queue_full"
            assert int(refused.headers["retry-after"]) >= 1
            # /health is not stuck behind the backend.
            started = time.monotonic()
            health = client.get("/health")
            assert health.status_code == 200
            assert time.monotonic() - started < 5
            tts.release.set()
            assert running.result(10).status_code == 200
            assert all(job.result(10).status_code == 200 for job in queued)
        metrics = client.get("/metrics").text
        assert 'voicebox_rejected_requests_total{reason="queue_full"} 1.0' in metrics


def test_a_request_that_outlives_its_timeout_is_503() -> None:
    tts = ProbeBackend()
    with (
        serve(_app(tts, request_timeout_s=0.2)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        prompt = _prompt(client)
        tts.release.clear()
        try:
            response = client.post("/v1/generate", json={"text": "slow", "voice_prompt": prompt})
        finally:
            tts.release.set()
        assert response.status_code == 503
        assert response.json()["code"] == "timeout"
        assert "retry-after" in response.headers


def test_transcriptions_have_their_own_queue() -> None:
    tts = ProbeBackend()
    app = create_app(make_config(), tts_factory=lambda: tts, transcriber_factory=FakeTranscriber)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        prompt = _prompt(client)
        tts.release.clear()
        with ThreadPoolExecutor(max_workers=1) as pool:
            blocked = pool.submit(
                client.post, "/v1/generate", json={"text": "x", "voice_prompt": prompt}
            )
            assert tts.started.acquire(timeout=10)
            with httpx.Client(base_url=url, timeout=10) as other:
                response = other.post(
                    "/v1/transcribe", files={"audio": ("a.wav", tone_wav(), "audio/wav")}
                )
            assert response.status_code == 200
            tts.release.set()
            assert blocked.result(10).status_code == 200


def test_while_loading_everything_but_health_is_503() -> None:
    import threading

    gate = threading.Event()

    def slow_factory() -> ProbeBackend:
        gate.wait(10)
        return ProbeBackend()

    app = create_app(make_config(), tts_factory=slow_factory, transcriber_factory=lambda: None)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "loading"
        assert "retry-after" in health.headers
        response = client.post("/v1/generate", json={"text": "x", "voice_prompt": {}})
        assert response.status_code == 503
        assert response.json()["code"] == "loading"
        gate.set()
        deadline = time.monotonic() + 10
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.01)


def test_a_backend_that_fails_to_load_makes_the_server_unhealthy() -> None:
    def broken() -> ProbeBackend:
        raise OSError("/models/qwen/missing.safetensors not found")

    app = create_app(make_config(), tts_factory=broken, transcriber_factory=lambda: None)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        deadline = time.monotonic() + 10
        while client.get("/health").json()["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unhealthy"
        assert "/models" not in health.text


def test_a_transcriber_that_fails_to_load_degrades_the_server() -> None:
    def broken() -> FakeTranscriber:
        raise RuntimeError("no whisper today")

    app = create_app(make_config(), tts_factory=ProbeBackend, transcriber_factory=broken)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        deadline = time.monotonic() + 10
        while client.get("/health").json()["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        health = client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        response = client.post(
            "/v1/transcribe", files={"audio": ("a.wav", tone_wav(), "audio/wav")}
        )
        assert response.status_code == 503
        assert "retry-after" in response.headers
