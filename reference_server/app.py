"""The FastAPI application: wiring of routes, middleware, state and life cycle.

``create_app(config)`` builds the app for ``python -m reference_server``; tests and benchmarks
pass their own backend factories. The app does not load models until its lifespan starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Final

from fastapi import FastAPI, Request, Response

from reference_server.admission import AdmissionMiddleware, Pool
from reference_server.auth import ApiKeyAuth
from reference_server.backends.registry import (
    BackendSettings,
    create_transcription_backend,
    create_tts_backend,
)
from reference_server.bodylimit import BodyLimitMiddleware
from reference_server.bodytimeout import BodyTimeoutMiddleware
from reference_server.cache import GenerationCache
from reference_server.config import ServerConfig
from reference_server.dependencies import ServerState, server_of
from reference_server.errors import install_exception_handlers
from reference_server.logredact import install_redaction
from reference_server.metrics import CONTENT_TYPE, Metrics
from reference_server.middleware import RequestContextMiddleware
from reference_server.ratelimit import RateLimiter
from reference_server.runtime import (
    LOADING_RETRY_AFTER,
    Runtime,
    TranscriberFactory,
    TTSFactory,
)
from reference_server.speech.clones import ClonedPrompts
from reference_server.speech.routes import PATH as SPEECH_PATH
from reference_server.speech.routes import router as speech_router
from reference_server.speech.voices import NamedVoices
from reference_server.transcription_routes import router as transcription_router
from reference_server.tts_routes import router as tts_router
from reference_server.uploads import FORM_OVERHEAD_BYTES, UploadReader
from voicebox_api import build_openapi

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

_UPLOAD_PATHS: Final = frozenset(
    {"/v1/create_voice_prompt", "/v1/transcribe", "/v1/audio/transcriptions"}
)
_SMALL_BODY_BYTES: Final = 64 * 1024
_DECODERS: Final = max(1, min(4, os.cpu_count() or 1))


def create_app(
    config: ServerConfig,
    *,
    tts_factory: TTSFactory | None = None,
    transcriber_factory: TranscriberFactory | None = None,
) -> FastAPI:
    """The app for ``config``; factories default to the registry's backends."""
    install_redaction()
    metrics = Metrics()
    runtime = Runtime(
        config,
        tts_factory=tts_factory or _registry_tts(config),
        transcriber_factory=transcriber_factory or _registry_transcriber(config),
        metrics=metrics,
    )
    cache = GenerationCache(config.cache_bytes)
    metrics.watch(runtime.queue_states, cache.stats)
    state = ServerState(
        config=config,
        runtime=runtime,
        cache=cache,
        auth=ApiKeyAuth(config.api_key),
        limiter=_rate_limiter(config),
        uploads=UploadReader(
            max_upload_bytes=config.max_upload_bytes,
            max_audio_seconds=config.max_audio_seconds,
            max_decoded_bytes=config.max_decoded_bytes,
            decoders=_DECODERS,
            max_concurrent=config.max_concurrent_uploads,
        ),
        metrics=metrics,
    )
    app = FastAPI(
        title="Voicebox reference provider",
        openapi_url=None,  # the committed openapi.json is served instead, see below
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.server = state
    app.state.speech_voices = NamedVoices()
    app.state.speech_clones = ClonedPrompts()
    install_exception_handlers(app)
    limits = _body_limits(config)
    app.add_middleware(
        BodyLimitMiddleware, limit_for=lambda path: limits.get(path, _SMALL_BODY_BYTES)
    )
    app.add_middleware(
        BodyTimeoutMiddleware,
        timeout_s=config.body_timeout_s,
        min_rate=config.min_body_rate_bytes,
    )
    app.add_middleware(AdmissionMiddleware, pools=_admission_pools(runtime), metrics=metrics)
    app.add_middleware(RequestContextMiddleware, instance_id=config.instance_id, metrics=metrics)
    app.include_router(tts_router)
    app.include_router(transcription_router)
    app.include_router(speech_router)
    _add_plain_routes(app)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: Runtime = app.state.server.runtime
    loading = asyncio.create_task(runtime.start())
    try:
        yield
    finally:
        if not loading.done():
            logger.warning("shutting down while the model is still loading")
            loading.cancel()
        await runtime.stop()


def _add_plain_routes(app: FastAPI) -> None:
    openapi_body = json.dumps(build_openapi(), indent=2, sort_keys=True).encode("utf-8")

    @app.api_route("/health", methods=["GET", "HEAD"])
    async def health(request: Request) -> Response:
        body, status = server_of(request).runtime.health()
        headers = {} if status == 200 else {"Retry-After": LOADING_RETRY_AFTER}
        return Response(
            body.model_dump_json(exclude_none=True),
            status_code=status,
            media_type="application/json",
            headers=headers,
        )

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        return Response(server_of(request).metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/openapi.json")
    async def openapi() -> Response:
        return Response(openapi_body, media_type="application/json")


def _admission_pools(runtime: Runtime) -> dict[str, Pool]:
    def pool(name: str) -> Pool:
        return Pool(
            name,
            capacity=lambda: runtime.admission_capacity(name),
            retry_after=lambda: runtime.retry_after_s(name),
        )

    tts, transcribe = pool("tts"), pool("transcribe")
    return {
        "/v1/generate": tts,
        "/v1/create_voice_prompt": tts,
        "/v1/transcribe": transcribe,
        "/v1/audio/transcriptions": transcribe,
    }


def _body_limits(config: ServerConfig) -> dict[str, int]:
    limits = {path: config.max_upload_bytes + FORM_OVERHEAD_BYTES for path in _UPLOAD_PATHS}
    limits["/v1/generate"] = config.max_json_bytes
    # ref_audio is an upload in base64 (4/3 of its size) inside JSON (SPEC.md SPEECH-17)
    limits[SPEECH_PATH] = config.max_upload_bytes * 4 // 3 + FORM_OVERHEAD_BYTES
    return limits


def _rate_limiter(config: ServerConfig) -> RateLimiter | None:
    if config.rate_limit is None:
        return None
    burst = config.rate_burst or max(1, round(config.rate_limit))
    return RateLimiter(config.rate_limit, burst)


def _registry_tts(config: ServerConfig) -> TTSFactory:
    settings = BackendSettings(
        model=config.model, device=config.device, options=dict(config.backend_options)
    )
    return lambda: create_tts_backend(config.backend, settings)


def _registry_transcriber(config: ServerConfig) -> TranscriberFactory:
    return lambda: create_transcription_backend(config.whisper, config.whisper_device)
