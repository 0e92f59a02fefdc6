"""Stop waiting for inference when the client hangs up.

A client that gives up (a timeout, a closed tab, a load generator's deadline) should not leave its
job in the queue: ``unless_disconnected`` awaits the work and, if the client disconnects first,
cancels it, which drops a job that has not started (``Scheduler.submit`` abandons it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from reference_server.errors import ApiError

__all__ = ["CLIENT_CLOSED", "unless_disconnected"]

T = TypeVar("T")

CLIENT_CLOSED = 499
"""nginx's status for "client closed request": only metrics and logs ever see it."""


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``await work``, unless the client disconnects first (call after the body is read)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    if task.cancelled():
        raise ApiError(CLIENT_CLOSED, "the client closed the connection", code="client_closed")
    return task.result()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
