"""Request body limits, enforced before and while the body is read.

A declared ``Content-Length`` over the route's limit is answered 413 at once, without reading
the body; a body without one (chunked) is counted as it arrives and refused the moment it passes
the limit, so memory never holds more than the limit. Hand-written rather than Starlette's
``RequestBodyLimitMiddleware`` because the 413 must have the API's error body (ERR-1, OAI-6),
limits differ per route, and older Starlette releases lack it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_server.errors import ApiError, error_response

__all__ = ["BodyLimitMiddleware", "body_too_large"]


def body_too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"the request body is larger than this server's limit of {limit} bytes",
        code="body_too_large",
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(scope, body_too_large(limit))(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise body_too_large(limit)
            return message

        await self.app(scope, counted_receive, send)
