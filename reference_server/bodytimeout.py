"""A request body must arrive in time and at a minimum rate, or the request is answered 408.

A client that declares a large body and then trickles it (one byte a second) would otherwise
hold its upload slot and its admission place for as long as it likes, locking every real
upload out. Each read of the body waits at most until the earlier of two deadlines: the whole
body's (``body_timeout_s`` after the request arrived) and the rate's (the time by which the bytes
received so far fall below ``min_rate`` bytes a second, after a short grace for the first bytes).
When one passes, the request fails with 408 and everything it holds is released. Once the body
is complete nothing is timed: a handler may go on waiting for a disconnect.
"""

from __future__ import annotations

import time
from typing import Final

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_server.errors import ApiError

__all__ = ["GRACE_S", "BodyTimeoutMiddleware", "body_too_slow"]

GRACE_S: Final = 2.0
"""Time the first bytes of a body get before the minimum rate applies."""


def body_too_slow() -> ApiError:
    return ApiError(408, "the request body arrived too slowly; send it faster", code="body_timeout")


class BodyTimeoutMiddleware:
    def __init__(self, app: ASGIApp, *, timeout_s: float, min_rate: int) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        received = 0
        complete = False

        def deadline() -> float:
            whole = started + self.timeout_s
            if self.min_rate <= 0:
                return whole
            return min(whole, started + GRACE_S + received / self.min_rate)

        async def timed_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            remaining = deadline() - time.monotonic()
            with anyio.move_on_after(max(0.0, remaining)) as scope_:
                message = await receive()
            if scope_.cancelled_caught:
                raise body_too_slow()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)
