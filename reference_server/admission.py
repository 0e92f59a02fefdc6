"""Admission control: refuse overload before any costly work.

Every costly request (one that will queue for inference) is counted from the moment it arrives
until its response is sent, per inference queue. A request beyond the queue's capacity (what
can wait, plus what can run, plus a small slack for requests whose bodies are still arriving)
is answered 503 with Retry-After at once, before its body is read or parsed, so a burst is
refused in constant time and the requests already admitted keep their idle latency. The
scheduler's own queue-full check stays behind it as the exact bound.

A pure ASGI middleware, outside the body limits and the routes: it costs one dictionary look-up
and two integer updates per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from reference_server.errors import ApiError, error_response
from reference_server.metrics import Metrics

__all__ = ["AdmissionMiddleware", "Pool"]


class Pool:
    """The requests admitted for one inference queue, and how many it may hold."""

    def __init__(self, name: str, capacity: Callable[[], int], retry_after: Callable[[], int]):
        self.name = name
        self.in_flight = 0
        self._capacity = capacity
        self._retry_after = retry_after

    def try_admit(self) -> bool:
        if self.in_flight >= self._capacity():
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight -= 1

    def refusal(self) -> ApiError:
        return ApiError(
            503,
            "the server is at capacity; retry after the Retry-After delay",
            code="overloaded",
            headers={"Retry-After": str(self._retry_after())},
        )


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, pools: Mapping[str, Pool], metrics: Metrics) -> None:
        self.app = app
        self.pools = pools
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pool = self.pools.get(scope.get("path", "")) if scope["type"] == "http" else None
        if pool is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if not pool.try_admit():
            self.metrics.rejected.labels("overloaded").inc()
            await error_response(scope, pool.refusal())(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            pool.release()
