"""Fixtures for the client's tests: a clean environment, both client variants, fake and real
(loopback) providers."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import anyio
import httpx
import numpy as np
import pytest

from voicebox_api import (
    ENV_VARIABLES,
    AsyncProviderClient,
    Exchange,
    ProviderClient,
    RetryPolicy,
    Settings,
    encode_response,
)

Handler = Callable[[httpx.Request], httpx.Response]
Variant = Literal["sync", "async"]

BASE_URL = "http://provider.test:8000/prefix"
OPENAI_URL = "http://openai.test/v1"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own TTS_* / WHISPER_* / OPENAI_* variables."""
    for variable in ENV_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"tts_remote_url": BASE_URL, "openai_base_url": OPENAI_URL}
    values.update(overrides)
    return Settings(**values)


@dataclass
class Harness:
    """Runs a client method in the sync or the async client, with fake sleep and a recorder."""

    variant: Variant
    sleeps: list[float] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def call(
        self,
        handler: Handler | httpx.BaseTransport | httpx.AsyncBaseTransport | None,
        method: str,
        *args: Any,
        client_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        options = {
            "settings": settings(),
            "on_exchange": self.exchanges.append,
            "retry": RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8.0),
            **(client_options or {}),
        }
        transport = httpx.MockTransport(handler) if callable(handler) else handler
        if self.variant == "sync":
            with ProviderClient(transport=transport, sleep=self.sleeps.append, **options) as c:  # type: ignore[arg-type]
                return getattr(c, method)(*args, **kwargs)

        async def fake_sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        async def run() -> Any:
            async with AsyncProviderClient(transport=transport, sleep=fake_sleep, **options) as c:  # type: ignore[arg-type]
                return await getattr(c, method)(*args, **kwargs)

        return anyio.run(run)


@pytest.fixture(params=["sync", "async"])
def harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(request.param)


# --- Fake provider bodies ----------------------------------------------------------------------

SAMPLES = (np.sin(np.linspace(0, 40, 2400)) * 0.5).astype(np.float32)


def generate_body() -> dict[str, Any]:
    return encode_response(SAMPLES, 24000).model_dump()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


class Recorder:
    """A MockTransport handler that answers from a script and keeps every request."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.script = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(outcome, Exception):
            raise outcome
        # A fresh copy each time: a client binds the response it receives to itself.
        return httpx.Response(outcome.status_code, headers=outcome.headers, content=outcome.content)


def form_fields(request: httpx.Request) -> dict[str, tuple[str | None, str | None, bytes]]:
    """A multipart body's parts as name -> (filename, content type, content), parsed by the
    standard library (independently of the code under test)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.read())
    fields: dict[str, tuple[str | None, str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        content_type = part.get_content_type() if part.get("content-type") else None
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        fields[str(name)] = (filename, content_type, content)
    return fields


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.read())


# --- A real provider on the loopback interface -------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1 (an ephemeral port) that records requests and answers
    with ``reply``; ``hold`` makes it wait for ``release`` before answering."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.reply: tuple[int, dict[str, str], bytes] = (200, {}, b"{}")
        self.hold = False
        self.release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reply_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", **(headers or {})}
        self.reply = (status, headers, json.dumps(body).encode())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                server.received.append(Received(self.command, self.path, headers, body))
                if server.hold:
                    server.release.wait(timeout=10)
                status, reply_headers, reply_body = server.reply
                self.send_response(status)
                for name, value in reply_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply_body)))
                self.end_headers()
                self.wfile.write(reply_body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return _Handler


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def unanswered_port_url() -> Iterator[str]:
    """A loopback URL whose listen queue is full, so that connecting times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}"
    for filler in fillers:
        filler.close()
    listener.close()
