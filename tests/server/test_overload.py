"""Under load: /health keeps answering, a full queue answers 503 with Retry-After, timeouts 503."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from reference_server.app import create_app
from tests.server.conftest import make_config, serve
from tests.server.fakes import FakeTranscriber, ProbeBackend, tone_wav


def _app(tts: ProbeBackend, **config: Any) -> Any:
    return create_app(
        make_config(**config), tts_factory=lambda: tts, transcriber_factory=FakeTranscriber
    )


@contextmanager
def _raw_post(url: str, path: str, body: dict[str, Any]) -> Iterator[socket.socket]:
    """A POST sent on a bare socket that is closed, unanswered, when the block ends."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port or 80), timeout=10) as sock:
        sock.sendall(head + data)
        yield sock


def _wait_for_metric(client: httpx.Client, line: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while line not in client.get("/metrics").text:
        assert time.monotonic() < deadline, f"never saw {line}"
        time.sleep(0.01)


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


def test_uploads_beyond_the_concurrent_limit_are_503() -> None:
    tts = ProbeBackend()
    with (
        serve(_app(tts, max_concurrent_uploads=1)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        tts.prompt_release.clear()
        first = pool.submit(_prompt, client)
        assert tts.prompt_started.acquire(timeout=10)
        with httpx.Client(base_url=url, timeout=10) as other:
            refused = other.post(
                "/v1/transcribe", files={"audio": ("a.wav", tone_wav(), "audio/wav")}
            )
            assert refused.status_code == 503
            assert refused.json()["code"] == "uploads_busy"
            assert refused.headers["retry-after"] == "1"
            assert other.get("/health").status_code == 200
        tts.prompt_release.set()
        first.result(10)
        # The slot is free again.
        response = client.post(
            "/v1/transcribe", files={"audio": ("a.wav", tone_wav(), "audio/wav")}
        )
        assert response.status_code == 200


def test_a_queued_job_is_dropped_when_its_client_hangs_up() -> None:
    tts = ProbeBackend()
    with (
        serve(_app(tts)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        prompt = _prompt(client)
        tts.release.clear()
        running = pool.submit(
            client.post, "/v1/generate", json={"text": "running", "voice_prompt": prompt}
        )
        assert tts.started.acquire(timeout=10)
        # The client hangs up once its job is queued (seen in the server's gauge), not after a
        # guess at how long the request takes to get there.
        with _raw_post(url, "/v1/generate", {"text": "gives up", "voice_prompt": prompt}):
            _wait_for_metric(client, 'voicebox_queue_depth{queue="tts"} 1.0')
        deadline = time.monotonic() + 10
        while 'voicebox_queue_depth{queue="tts"} 0.0' not in client.get("/metrics").text:
            assert time.monotonic() < deadline, "the abandoned job stayed queued"
            time.sleep(0.02)
        tts.release.set()
        assert running.result(10).status_code == 200
        assert [batch for batch in tts.batches] == [["running"]]
        metrics = client.get("/metrics").text
        assert 'endpoint="/v1/generate",method="POST",status="499"' in metrics
