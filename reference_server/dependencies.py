"""What route handlers share: the server's state, and the key and rate-limit guard of ``/v1/``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from fastapi import Request

from reference_server.auth import ApiKeyAuth
from reference_server.cache import GenerationCache
from reference_server.config import ServerConfig
from reference_server.errors import ApiError
from reference_server.metrics import Metrics
from reference_server.middleware import RequestContext, context_of
from reference_server.ratelimit import RateLimiter
from reference_server.runtime import Runtime
from reference_server.uploads import UploadReader

__all__ = ["ServerState", "context", "guard_openai", "guard_voicebox", "server_of"]


@dataclass(frozen=True)
class ServerState:
    config: ServerConfig
    runtime: Runtime
    cache: GenerationCache
    auth: ApiKeyAuth
    limiter: RateLimiter | None
    uploads: UploadReader
    metrics: Metrics


def server_of(request: Request) -> ServerState:
    return cast(ServerState, request.app.state.server)


def context(request: Request) -> RequestContext:
    return context_of(request.scope)


def _guard(request: Request, *, bearer_only: bool) -> None:
    server = server_of(request)
    identity = server.auth.authenticate(request.headers, bearer_only=bearer_only)
    if server.limiter is None:
        return
    client = identity or f"addr:{request.client.host if request.client else '-'}"
    wait_s = server.limiter.acquire(client)
    if wait_s > 0:
        server.metrics.rejected.labels("rate_limited").inc()
        raise ApiError(
            429,
            "rate limit exceeded; retry after the Retry-After delay",
            code="rate_limited",
            headers={"Retry-After": RateLimiter.retry_after_header(wait_s)},
        )


async def guard_voicebox(request: Request) -> None:
    """X-API-Key or Bearer (AUTH-1..3, AUTH-5), then the rate limit."""
    _guard(request, bearer_only=False)


async def guard_openai(request: Request) -> None:
    """Bearer, as OpenAI documents it (OAI-8), then the rate limit."""
    _guard(request, bearer_only=True)
