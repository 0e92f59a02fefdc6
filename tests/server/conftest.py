"""Fixtures: the app in-process (TestClient, lifespan included) and on a loopback uvicorn
(``serve``, from testkit)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from orchestration.processes import wait_healthy
from reference_server.app import create_app
from reference_server.config import ServerConfig
from testkit.serving import serve
from tests.server.fakes import FakeTranscriber, ProbeBackend

__all__ = ["INSTANCE", "Harness", "make_config", "serve"]

INSTANCE = "test-instance"


def make_config(**overrides: Any) -> ServerConfig:
    settings: dict[str, Any] = {"backend": "synthetic", "whisper": "none", "instance_id": INSTANCE}
    settings.update(overrides)
    return ServerConfig(**settings)


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
        wait_healthy(client, timeout_s=10)
        return Harness(app=app, client=client, tts=backend, transcriber=transcriber)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    return make_harness(transcriber=FakeTranscriber())
