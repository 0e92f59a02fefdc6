"""Fixtures: the app in-process (TestClient, lifespan included) and on a loopback uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reference_server.app import create_app
from reference_server.config import ServerConfig
from tests.server.fakes import FakeTranscriber, ProbeBackend

INSTANCE = "test-instance"


def make_config(**overrides: Any) -> ServerConfig:
    settings: dict[str, Any] = {"backend": "synthetic", "whisper": "none", "instance_id": INSTANCE}
    settings.update(overrides)
    return ServerConfig(**settings)


def wait_ready(get: Callable[[str], httpx.Response], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if get("/health").status_code == 200:
            return
        time.sleep(0.01)
    raise AssertionError("the server did not become ready")


@dataclass
class Harness:
    app: FastAPI
    client: TestClient
    tts: ProbeBackend
    transcriber: FakeTranscriber | None

    def prompt(self, wav: bytes | None = None) -> dict[str, Any]:
        from tests.server.fakes import tone_wav

        response = self.client.post(
            "/v1/create_voice_prompt",
            files={"audio": ("ref.wav", wav or tone_wav(), "audio/wav")},
            data={"reference_text": "a reference"},
            headers=self.auth_headers(),
        )
        assert response.status_code == 200, response.text
        prompt: dict[str, Any] = response.json()["voice_prompt"]
        return prompt

    def auth_headers(self) -> dict[str, bytes]:
        key = self.app.state.server.config.api_key
        return {"X-API-Key": key.encode("utf-8")} if key else {}


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def make_harness() -> Iterator[HarnessFactory]:
    clients: list[TestClient] = []

    def make(
        *,
        tts: ProbeBackend | None = None,
        transcriber: FakeTranscriber | None = None,
        **config: Any,
    ) -> Harness:
        backend = tts or ProbeBackend()
        app = create_app(
            make_config(**config),
            tts_factory=lambda: backend,
            transcriber_factory=lambda: transcriber,
        )
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        wait_ready(client.get)
        return Harness(app=app, client=client, tts=backend, transcriber=transcriber)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    return make_harness(transcriber=FakeTranscriber())


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` on a loopback uvicorn in a thread; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            wait_ready(client.get)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(15)
