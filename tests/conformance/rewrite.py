"""An ASGI middleware that lets a test rewrite requests and responses of a correct provider.

Each mutant of ``mutants.py`` is the reference server plus one ``Rewrite``: the smallest change
that breaks exactly one SPEC.md clause.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from reference_server.errors import ApiError, error_response

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Exchange:
    """One request as the middleware sees it; hooks may change any field."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)

    def response_json(self) -> Any:
        return json.loads(self.response_body)

    def set_json(self, value: Any) -> None:
        self.body = json.dumps(value).encode()

    def respond(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """Answer without calling the provider."""
        self.status = status
        self.response_body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.response_headers = headers or {"content-type": "application/json"}

    def set_response_json(self, value: Any) -> None:
        self.response_body = json.dumps(value).encode()


RequestHook = Callable[[Exchange], Awaitable[None]]
ResponseHook = Callable[[Exchange], Awaitable[None]]


async def _nothing(exchange: Exchange) -> None:
    return None


@dataclass
class Rewrite:
    on_request: RequestHook = _nothing
    on_response: ResponseHook = _nothing


class RewriteMiddleware:
    def __init__(self, app: ASGIApp, rewrite: Rewrite) -> None:
        self.app = app
        self.rewrite = rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except ApiError as refused:  # a body deadline passed (BodyTimeoutMiddleware)
            await error_response(scope, refused)(scope, receive, send)
            return
        exchange = Exchange(
            method=scope["method"],
            path=scope["path"],
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
        )
        await self.rewrite.on_request(exchange)
        if not exchange.status:
            await self._call_provider(scope, receive, exchange)
            await self.rewrite.on_response(exchange)
        await _send_response(send, exchange)

    async def _call_provider(self, scope: Scope, receive: Receive, exchange: Exchange) -> None:
        headers = [
            (k.encode(), v.encode()) for k, v in exchange.headers.items() if k != "content-length"
        ]
        headers.append((b"content-length", str(len(exchange.body)).encode()))
        inner_scope = {**scope, "headers": headers}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:  # like a server: the next message is the client's disconnect, when it comes
                return await receive()
            sent = True
            return {"type": "http.request", "body": exchange.body, "more_body": False}

        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = {
                    k.decode().lower(): v.decode() for k, v in message.get("headers", [])
                }
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(inner_scope, replay, capture)
        exchange.response_body = b"".join(chunks)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_response(send: Send, exchange: Exchange) -> None:
    headers = [
        (k.encode(), v.encode())
        for k, v in exchange.response_headers.items()
        if k != "content-length"
    ]
    headers.append((b"content-length", str(len(exchange.response_body)).encode()))
    await send({"type": "http.response.start", "status": exchange.status, "headers": headers})
    await send({"type": "http.response.body", "body": exchange.response_body})
