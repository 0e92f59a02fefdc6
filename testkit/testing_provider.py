"""A provider with known, injected service times: the ground truth the harness is tested against.

It implements ``/health``, ``/v1/generate``, ``/v1/create_voice_prompt`` and ``/v1/transcribe``
on the protocol models, but instead of inferring it sleeps a service time drawn from a seeded
distribution, and it logs its own timings for every request (``GET /_test/log``). It can inject:

- a **stall**: every request arriving in ``[t0, t0 + D)`` is held until ``t0 + D`` (``hold``),
  or the whole server freezes for ``D`` (``freeze``: the event loop blocks, as in a GC pause);
- a **capacity limit** (``--slots``): at most N requests in service, the rest queue;
- **garbage** (``--bad-audio-every N``): every Nth generation answers NaN samples;
- **streams** (SPEC.md §14): a request with ``Accept: application/vnd.voicebox.pcm-stream`` gets
  its audio in ``--stream-chunks`` frames, the first ``--stream-first-ms`` after the service time,
  then one every ``--stream-chunk-ms``, with an optional stall of ``--stream-stall-ms`` after
  frame ``--stream-stall-after``; the log holds when each audio frame was handed to the server.

Run: ``python -m testkit.testing_provider --port 8000 --service lognormal:40:0.5``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import httpx
import numpy as np
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from orchestration.processes import ManagedProcess, serving
from voicebox_api import (
    STREAM_MEDIA_TYPE,
    Capabilities,
    GenerateRequest,
    HealthResponse,
    UndecodableAudioError,
    audio_frame,
    encode_audio,
    end_frame,
    header_frame,
    read_audio,
)

__all__ = [
    "ProviderConfig",
    "ServiceTime",
    "StallPlan",
    "StreamPlan",
    "create_app",
    "launch",
    "main",
    "server_log",
]

PROMPT_MARK: Final = "bench-test-provider"
SAMPLE_RATE: Final = 24_000
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class ServiceTime:
    """A seeded service-time distribution in milliseconds.

    ``fixed:50``, ``uniform:20:80``, ``lognormal:40:0.5`` (median, sigma) or ``exp:30``.
    """

    spec: str = "fixed:20"

    def sampler(self, seed: int) -> Callable[[], float]:
        kind, *raw = self.spec.split(":")
        args = [float(a) for a in raw]
        rng = np.random.default_rng(seed)
        samplers: dict[str, Callable[[], float]] = {
            "fixed": lambda: args[0],
            "uniform": lambda: float(rng.uniform(args[0], args[1])),
            "lognormal": lambda: float(args[0] * math.exp(args[1] * rng.standard_normal())),
            "exp": lambda: float(rng.exponential(args[0])),
        }
        if kind not in samplers:
            raise ValueError(f"unknown service-time distribution {self.spec!r}")
        return samplers[kind]


@dataclass(frozen=True)
class StallPlan:
    """Hold (or freeze) everything arriving in a window that opens ``at_s`` after the first
    ``/v1/`` request."""

    at_s: float
    duration_s: float
    mode: Literal["hold", "freeze"] = "hold"


@dataclass(frozen=True)
class StreamPlan:
    """When a streamed answer's audio frames leave, after the drawn service time."""

    first_ms: float = 0.0
    chunks: int = 8
    chunk_ms: float = 20.0
    stall_after: int | None = None
    """Index of the frame after which the stream stalls for ``stall_ms``."""
    stall_ms: float = 0.0
    accel_header: bool = True
    """Send ``X-Accel-Buffering: no``; without it only a proxy's own setting keeps it flowing."""


@dataclass(frozen=True)
class ProviderConfig:
    instance_id: str = "test-0"
    service: ServiceTime = field(default_factory=ServiceTime)
    seed: int = 0
    slots: int = 0
    """At most this many requests in service at once; 0 means unlimited."""
    stall: StallPlan | None = None
    api_key: str | None = None
    bad_audio_every: int = 0
    seconds_per_char: float = 0.06
    stream: StreamPlan = field(default_factory=StreamPlan)


class _State:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.draw = config.service.sampler(config.seed)
        self.slots = asyncio.Semaphore(config.slots) if config.slots > 0 else None
        self.log: list[dict[str, Any]] = []
        self.first_v1: float | None = None
        self.stall_window: tuple[float, float] | None = None
        self.stall_mode = config.stall.mode if config.stall else "hold"
        self.frozen = False
        self.generations = 0
        self.prompts = 0
        self.audio_cache: dict[int, str] = {}
        self.lock = threading.Lock()

    def note_arrival(self, now: float) -> None:
        if self.first_v1 is None:
            self.first_v1 = now
            plan = self.config.stall
            if plan is not None and self.stall_window is None:
                start = now + plan.at_s
                self.stall_window = (start, start + plan.duration_s)

    def stall_end(self, arrived: float) -> float | None:
        if self.stall_window and self.stall_window[0] <= arrived < self.stall_window[1]:
            return self.stall_window[1]
        return None

    def audio(self, seconds: float) -> str:
        count = max(1, int(seconds * SAMPLE_RATE))
        if count not in self.audio_cache:
            t = np.arange(count) / SAMPLE_RATE
            tone = 0.3 * np.sin(2 * np.pi * 220.0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
            self.audio_cache[count] = encode_audio(tone.astype(np.float32))
        return self.audio_cache[count]


class _TimingLog:
    """ASGI middleware: the server-side truth, from the first byte handled to the last sent."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], state: _State):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/v1/", "/health")):
            await self.app(scope, receive, send)
            return
        arrived_mono, arrived_at = time.perf_counter(), time.time()
        if scope["path"].startswith("/v1/"):
            self.state.note_arrival(arrived_mono)
        entry: dict[str, Any] = {"path": scope["path"], "arrived_at": arrived_at, "status": None}
        scope.setdefault("state", {}).update(log_entry=entry, arrived_mono=arrived_mono)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                entry["elapsed_ms"] = (time.perf_counter() - arrived_mono) * 1000

        try:
            await self.app(scope, receive, timed_send)
        finally:
            with self.state.lock:
                self.state.log.append(entry)


def create_app(config: ProviderConfig) -> Starlette:
    """The provider as an ASGI app (wrapped in its timing log)."""
    state = _State(config)
    routes = [
        Route("/health", _health, methods=["GET"]),
        Route("/v1/generate", _generate, methods=["POST"]),
        Route("/v1/create_voice_prompt", _create_voice_prompt, methods=["POST"]),
        Route("/v1/transcribe", _transcribe, methods=["POST"]),
        Route("/_test/log", _log, methods=["GET"]),
        Route("/_test/reset", _reset, methods=["POST"]),
        Route("/_test/stall", _stall, methods=["POST"]),
        Route("/_test/null", _null, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.provider = state
    app.add_middleware(_TimingLog, state=state)
    return app


def _state(request: Request) -> _State:
    state: _State = request.app.state.provider
    return state


def _entry(request: Request) -> dict[str, Any]:
    entry: dict[str, Any] = request.scope["state"]["log_entry"]
    entry["request_id"] = request.headers.get("x-request-id")
    return entry


def _reply(request: Request, body: Any, status: int = 200, **timings: float) -> Response:
    headers = {
        "X-Served-By": _state(request).config.instance_id,
        "X-Request-ID": request.headers.get("x-request-id", ""),
    }
    if timings:
        headers["Server-Timing"] = ", ".join(f"{k};dur={v:.3f}" for k, v in timings.items())
    if status >= 500:
        headers["Retry-After"] = "1"
    return JSONResponse(body, status_code=status, headers=headers)


def _unauthorized(request: Request) -> Response | None:
    key = _state(request).config.api_key
    if key and request.headers.get("x-api-key") != key:
        return _reply(request, {"detail": "missing or wrong X-API-Key"}, 401)
    return None


async def _health(request: Request) -> Response:
    _entry(request)
    body = HealthResponse(
        status="healthy",
        model="bench-test-provider",
        device="cpu",
        api_version="0.2",
        capabilities=Capabilities(
            languages=["en"],
            deterministic_seed=True,
            transcribe=True,
            streaming=True,
            stream_granularity="frame",
        ),
    )
    return _reply(request, body.model_dump(mode="json", exclude_none=True))


async def _serve(request: Request, entry: dict[str, Any]) -> float:
    """Stall, queue for a slot and sleep the drawn service time; returns queue ms."""
    state = _state(request)
    arrived: float = request.scope["state"]["arrived_mono"]
    until = state.stall_end(arrived)
    if until is not None:
        if state.stall_mode == "freeze" and not state.frozen:
            state.frozen = True
            time.sleep(max(0.0, until - time.perf_counter()))  # blocks the whole server
        else:
            await asyncio.sleep(max(0.0, until - time.perf_counter()))
        entry["held_ms"] = (time.perf_counter() - arrived) * 1000
    queued = time.perf_counter()
    service_ms = state.draw()
    entry["service_ms"] = service_ms
    async with state.slots or contextlib.nullcontext():
        entry["queue_ms"] = (time.perf_counter() - queued) * 1000
        await asyncio.sleep(service_ms / 1000)
    return float(entry["queue_ms"])


async def _generate(request: Request) -> Response:
    entry = _entry(request)
    if (refusal := _unauthorized(request)) is not None:
        return refusal
    state = _state(request)
    try:
        body = GenerateRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        issues = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return _reply(request, {"detail": issues}, 422)
    if body.voice_prompt.get("provider") != PROMPT_MARK:
        return _reply(request, {"detail": "voice_prompt was not made by this provider"}, 422)
    streamed = request.headers.get("accept") == STREAM_MEDIA_TYPE
    queue_ms = await _serve(request, entry)
    state.generations += 1
    seconds = min(30.0, max(0.25, len(body.text) * state.config.seconds_per_char))
    if streamed:
        entry["audio_s"] = seconds
        return StreamingResponse(
            _stream_frames(state, entry, request.scope["state"]["arrived_mono"], seconds),
            media_type=STREAM_MEDIA_TYPE,
            headers=_stream_headers(state.config.stream, _request_id(request)),
        )
    audio = state.audio(seconds)
    every = state.config.bad_audio_every
    if every and state.generations % every == 0:
        # The codec refuses to encode NaN, as it should; garbage is made by hand.
        audio = base64.b64encode(np.full(1000, np.nan, dtype="<f4").tobytes()).decode()
        entry["bad_audio"] = True
    entry["audio_s"] = seconds
    return _reply(
        request,
        {"audio": audio, "sample_rate": SAMPLE_RATE, "dtype": "float32"},
        queue=queue_ms,
        inference=entry["service_ms"],
    )


def _stream_headers(plan: StreamPlan, request_id: str) -> dict[str, str]:
    headers = {"X-Request-ID": request_id}
    if plan.accel_header:
        headers["X-Accel-Buffering"] = "no"
    return headers


def _request_id(request: Request) -> str:
    return request.headers.get("x-request-id", "")


async def _stream_frames(
    state: _State, entry: dict[str, Any], arrived: float, seconds: float
) -> AsyncIterator[bytes]:
    plan = state.config.stream
    samples = np.frombuffer(base64.b64decode(state.audio(seconds)), "<f4")
    pieces = np.array_split(samples, max(1, plan.chunks))
    entry["frames_ms"] = []
    yield header_frame(SAMPLE_RATE, "float32")
    await asyncio.sleep(plan.first_ms / 1000)
    for index, piece in enumerate(pieces):
        if index:
            await asyncio.sleep(plan.chunk_ms / 1000)
        if plan.stall_after is not None and index == plan.stall_after + 1:
            await asyncio.sleep(plan.stall_ms / 1000)
        entry["frames_ms"].append((time.perf_counter() - arrived) * 1000)
        yield audio_frame(piece, "float32")
    yield end_frame(samples.size)


async def _upload(request: Request, entry: dict[str, Any]) -> tuple[float, Any] | Response:
    if (refusal := _unauthorized(request)) is not None:
        return refusal
    form = await request.form()
    upload = form.get("audio")
    if upload is None or isinstance(upload, str):
        return _reply(request, {"detail": "missing file part 'audio'"}, 400)
    try:
        samples, rate = read_audio(await upload.read())
    except UndecodableAudioError as exc:
        return _reply(request, {"detail": str(exc)}, 422)
    entry["upload_s"] = len(samples) / rate
    return len(samples) / rate, form


async def _create_voice_prompt(request: Request) -> Response:
    entry = _entry(request)
    upload = await _upload(request, entry)
    if isinstance(upload, Response):
        return upload
    state = _state(request)
    queue_ms = await _serve(request, entry)
    state.prompts += 1
    prompt = {"provider": PROMPT_MARK, "id": state.prompts, "reference_s": upload[0]}
    return _reply(request, {"voice_prompt": prompt}, queue=queue_ms, inference=entry["service_ms"])


async def _transcribe(request: Request) -> Response:
    entry = _entry(request)
    upload = await _upload(request, entry)
    if isinstance(upload, Response):
        return upload
    queue_ms = await _serve(request, entry)
    return _reply(
        request,
        {"text": "a generated reference tone"},
        queue=queue_ms,
        inference=entry["service_ms"],
    )


async def _log(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        entries = list(state.log)
    return JSONResponse({"instance_id": state.config.instance_id, "entries": entries})


async def _reset(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        state.log.clear()
    state.first_v1 = None
    state.stall_window = None
    state.frozen = False
    return JSONResponse({"reset": True})


async def _stall(request: Request) -> Response:
    """Open a stall window now: ``?in=0.5&for=2&mode=hold``."""
    state = _state(request)
    start = time.perf_counter() + float(request.query_params.get("in", "0"))
    state.stall_window = (start, start + float(request.query_params.get("for", "2")))
    state.stall_mode = "freeze" if request.query_params.get("mode") == "freeze" else "hold"
    state.frozen = False
    return JSONResponse({"stall": asdict(StallPlan(0.0, state.stall_window[1] - start))})


async def _null(request: Request) -> Response:
    return PlainTextResponse("ok")


def server_log(base_url: str) -> list[dict[str, Any]]:
    """The provider's own record of every request it handled."""
    response = httpx.get(f"{base_url}/_test/log", timeout=10.0, trust_env=False)
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m testkit.testing_provider")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--instance-id", default="test-0")
    parser.add_argument("--service", default="fixed:20", help="fixed:MS, uniform:A:B, ...")
    parser.add_argument("--service-scale", type=float, default=1.0, help="multiply every draw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slots", type=int, default=0, help="concurrent services; 0 = no limit")
    parser.add_argument("--stall-at", type=float, help="seconds after the first /v1/ request")
    parser.add_argument("--stall-for", type=float, default=2.0)
    parser.add_argument("--stall-mode", choices=["hold", "freeze"], default="hold")
    parser.add_argument("--api-key")
    parser.add_argument("--bad-audio-every", type=int, default=0)
    parser.add_argument(
        "--seconds-per-char", type=float, default=0.06, help="audio length per text character"
    )
    parser.add_argument("--stream-first-ms", type=float, default=0.0)
    parser.add_argument("--stream-chunks", type=int, default=8)
    parser.add_argument("--stream-chunk-ms", type=float, default=20.0)
    parser.add_argument("--stream-stall-after", type=int, default=None)
    parser.add_argument("--stream-stall-ms", type=float, default=0.0)
    parser.add_argument(
        "--stream-without-accel-header",
        action="store_true",
        help="omit X-Accel-Buffering: no (to test a proxy's own buffering setting)",
    )
    parser.add_argument("--log-file", help="write the server-side log here (JSON) on shutdown")
    return parser


def _scaled(service: ServiceTime, scale: float) -> ServiceTime:
    if scale == 1.0:
        return service
    kind, *args = service.spec.split(":")
    if kind == "lognormal":
        args[0] = str(float(args[0]) * scale)
    else:
        args = [str(float(a) * scale) for a in args]
    return ServiceTime(":".join([kind, *args]))


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    options = _parser().parse_args(argv)
    config = ProviderConfig(
        instance_id=options.instance_id,
        service=_scaled(ServiceTime(options.service), options.service_scale),
        seed=options.seed,
        slots=options.slots,
        stall=StallPlan(options.stall_at, options.stall_for, options.stall_mode)
        if options.stall_at is not None
        else None,
        api_key=options.api_key,
        bad_audio_every=options.bad_audio_every,
        seconds_per_char=options.seconds_per_char,
        stream=StreamPlan(
            first_ms=options.stream_first_ms,
            chunks=options.stream_chunks,
            chunk_ms=options.stream_chunk_ms,
            stall_after=options.stream_stall_after,
            stall_ms=options.stream_stall_ms,
            accel_header=not options.stream_without_accel_header,
        ),
    )
    app = create_app(config)
    try:
        # asyncio's own loop: uvloop's timers round to whole milliseconds, so the injected
        # service times, which are the truth the harness is checked against, would be cut short.
        uvicorn.run(
            app,
            host=options.host,
            port=options.port,
            log_level="warning",
            access_log=False,
            loop="asyncio",
        )
    finally:
        if options.log_file:
            with open(options.log_file, "w", encoding="utf-8") as handle:
                json.dump(app.state.provider.log, handle)


if __name__ == "__main__":
    main()


@contextlib.contextmanager
def launch(
    workdir: Path, *args: str, instance_id: str = "test-0", attempts: int = 3
) -> Iterator[tuple[str, ManagedProcess]]:
    """Run the test provider on a free loopback port; yields its base URL and process."""

    def make(port: int) -> ManagedProcess:
        return ManagedProcess(
            [sys.executable, "-m", "testkit.testing_provider", "--port", str(port),
             "--instance-id", instance_id, *args],
            workdir / f"provider-{instance_id}-{port}.log",
            name=f"test provider {instance_id}",
        )  # fmt: skip

    with serving(make, attempts=attempts) as (url, process):
        yield url, process
