"""The request context: an id, timing headers, metrics, and the last line of error handling.

Every response, errors included, carries ``X-Request-ID`` (a sane incoming one is honoured),
``X-Served-By`` (the instance id, so load-balancing tests can tell servers apart) and
``Server-Timing`` (``queue;dur=1.2, inference;dur=345.6, app;dur=350.1``). An exception nobody
handled is logged with its traceback and answered 500 with a generic message and the request
id, never the traceback or a path. A client hanging up mid-body is one INFO line, no traceback.

A pure ASGI middleware rather than ``BaseHTTPMiddleware``: it adds no task per request and sees
exceptions before Starlette's own error middleware does.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_server.disconnect import CLIENT_CLOSED
from reference_server.errors import GENERIC_500, ApiError, error_response
from reference_server.metrics import Metrics, endpoint_label

__all__ = ["RequestContext", "RequestContextMiddleware", "context_of"]

logger = logging.getLogger(__name__)

_SANE_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:=+/-]{1,128}$")
_TIMING_NAME: Final = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass
class RequestContext:
    """Per-request facts the handlers add to and the middleware reports."""

    request_id: str
    started: float = field(default_factory=time.perf_counter)
    timings: list[str] = field(default_factory=list)

    def add_timing(self, name: str, seconds: float | None = None, desc: str | None = None) -> None:
        """One W3C Server-Timing metric; its duration is written in milliseconds."""
        assert _TIMING_NAME.match(name), name
        entry = name
        if seconds is not None:
            entry += f";dur={seconds * 1000:.1f}"
        if desc is not None:
            entry += f';desc="{desc}"'
        self.timings.append(entry)

    def server_timing(self) -> str:
        app = f"app;dur={(time.perf_counter() - self.started) * 1000:.1f}"
        return ", ".join([*self.timings, app])


def context_of(scope: Scope) -> RequestContext:
    context = scope.get("voicebox")
    if not isinstance(context, RequestContext):
        raise RuntimeError("RequestContextMiddleware is not installed")
    return context


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, instance_id: str, metrics: Metrics) -> None:
        self.app = app
        self.instance_id = instance_id
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(request_id=_request_id(scope))
        scope["voicebox"] = context
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = context.request_id
                headers["X-Served-By"] = self.instance_id
                headers["Server-Timing"] = context.server_timing()
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:
            # Anyone can hang up mid-upload, as often as they like: one quiet line, no trace.
            status = CLIENT_CLOSED
            logger.info(
                "client disconnected during %s %s (request_id=%s)",
                scope.get("method"),
                scope.get("path"),
                context.request_id,
            )
        except Exception:
            logger.exception(
                "unhandled error in %s %s (request_id=%s)",
                scope.get("method"),
                scope.get("path"),
                context.request_id,
            )
            if response_started:
                raise  # too late for a clean answer: let the server drop the connection
            error = ApiError(500, GENERIC_500, code="internal_error")
            await error_response(scope, error)(scope, receive, send_with_headers)
        finally:
            self.metrics.in_flight.dec()
            endpoint = endpoint_label(scope.get("path", ""))
            self.metrics.requests.labels(endpoint, scope.get("method", ""), str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - context.started)


def _request_id(scope: Scope) -> str:
    incoming = Headers(scope=scope).get("x-request-id")
    if incoming is not None and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex
