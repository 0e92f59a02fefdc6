"""The reference server under hostile load: overload refusals, recovery, and memory (issue 11).

Starts ``python -m reference_server`` (synthetic backend, ``latency_ms`` per generation, one
worker, ``--queue-size`` 4: a capacity of about 1000/latency_ms generations a second), then:

1. **idle**: sequential generations, for their client latency and server-side time
   (``Server-Timing: app``);
2. **burst**: an open-loop burst at ``--rate`` requests a second for ``--duration`` seconds,
   each request its own task (no coordinated omission): refusal latency p50/p99, the
   server-side time of the accepted ones against idle, and the offered rate actually reached
   (the client shares the machine's cores with the server);
3. **recovery**: from the moment the last burst response arrives, a generate every 20 ms until
   one succeeds;
4. **bomb**: ``--bombs`` concurrent uploads of a 440 KB FLAC that declares 590 s of 192 kHz
   stereo (906 MB decoded), to ``/v1/create_voice_prompt``.

``--endpoint upload`` bursts 5 s WAV uploads to ``/v1/create_voice_prompt`` instead of
generations; ``--backend espeak`` serves real (CPU-bound) synthesis. The server's RSS is sampled
every 20 ms throughout, for its peak per phase.

    python -m measurements.hostile_load [--rate 400] [--duration 5] [--endpoint generate|upload]
        [--backend synthetic|espeak] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from conformance.checks.robustness import bomb_flac
from orchestration.processes import ReferenceServerProcess
from voicebox_api import write_audio

__all__ = ["HostileReport", "main", "measure"]

_APP_TIMING = re.compile(r"app;dur=([0-9.]+)")
_BODY = {"text": "Hello there.", "language": "en"}


@dataclass
class RssSampler:
    pid: int
    peaks: dict[str, float] = field(default_factory=dict)
    phase: str = "idle"
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.is_set():
            try:
                rss = process.memory_info().rss / 2**20
            except psutil.Error:
                return
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)
            time.sleep(0.02)

    def start(self) -> None:
        threading.Thread(target=self.run, name="rss", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


@dataclass(frozen=True)
class Target:
    """What the idle, burst and recovery phases send: one prebuilt request."""

    path: str
    content_type: str
    payload: bytes

    def raw(self, host: str, port: int) -> bytes:
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: {self.content_type}\r\nContent-Length: {len(self.payload)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + self.payload

    def send(self, client: httpx.Client) -> httpx.Response:
        headers = {"content-type": self.content_type}
        return client.post(self.path, content=self.payload, headers=headers)


@dataclass(frozen=True)
class Answer:
    status: int
    seconds: float
    server_ms: float | None
    retry_after: bool


@dataclass(frozen=True)
class HostileReport:
    endpoint: str
    backend: str
    latency_ms: int
    queue_size: int
    offered_rate_target: float
    offered_rate_reached: float
    burst_requests: int
    accepted: int
    refused: int
    other: dict[str, int]
    refusal_p50_ms: float
    refusal_p99_ms: float
    refusals_with_retry_after: float
    idle_server_ms: float
    burst_server_ms: float
    server_time_ratio: float
    idle_client_ms: float
    burst_accepted_client_ms: float
    recovery_s: float
    bomb_statuses: list[int]
    bomb_max_s: float
    rss_mib: dict[str, float]
    rss_ratio_burst: float
    rss_ratio_bomb: float


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _answer(response: httpx.Response, seconds: float) -> Answer:
    timing = _APP_TIMING.search(response.headers.get("server-timing", ""))
    return Answer(
        response.status_code,
        seconds,
        float(timing.group(1)) if timing else None,
        "retry-after" in response.headers,
    )


def _wav(seconds: float) -> bytes:
    t = np.arange(int(seconds * 24_000)) / 24_000
    return write_audio((0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 24_000)


def _prompt(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/v1/create_voice_prompt", files={"audio": ("a.wav", _wav(1.0))})
    response.raise_for_status()
    prompt: dict[str, Any] = response.json()["voice_prompt"]
    return prompt


def _target(endpoint: str, client: httpx.Client) -> Target:
    if endpoint == "upload":
        request = httpx.Request(
            "POST", "http://x/", files={"audio": ("a.wav", _wav(5.0), "audio/wav")}
        )
        return Target("/v1/create_voice_prompt", request.headers["content-type"], request.read())
    body = {**_BODY, "voice_prompt": _prompt(client)}
    return Target("/v1/generate", "application/json", json.dumps(body).encode())


def _idle(client: httpx.Client, target: Target, count: int) -> list[Answer]:
    answers = []
    for _ in range(count):
        started = time.perf_counter()
        response = target.send(client)
        answers.append(_answer(response, time.perf_counter() - started))
    return answers


async def _raw_post(host: str, port: int, request: bytes) -> Answer:
    """One request on its own connection, with as little client work as asyncio allows: the
    load client shares the cores with the server, so httpx's per-request cost would cap the
    offered rate well below what the server refuses."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        body = await reader.readexactly(int(length.group(1))) if length else b""
        writer.close()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return Answer(0, time.perf_counter() - started, None, False)
    seconds = time.perf_counter() - started
    del body
    status = int(head.split(b" ", 2)[1])
    text = head.decode("latin-1")
    timing = _APP_TIMING.search(text)
    return Answer(
        status,
        seconds,
        float(timing.group(1)) if timing else None,
        "retry-after:" in text.lower(),
    )


async def _burst(
    url: str, target: Target, rate: float, duration_s: float
) -> tuple[list[Answer], float, float]:
    """Open loop: request i is sent at i / rate, whatever happened to the others."""
    parts = httpx.URL(url)
    host, port = parts.host, parts.port or 80
    request = target.raw(host, port)
    tasks: list[asyncio.Task[Answer]] = []
    begun = time.perf_counter()
    for index in range(int(rate * duration_s)):
        delay = begun + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_raw_post(host, port, request)))
    sent_for = time.perf_counter() - begun
    answers = list(await asyncio.gather(*tasks))
    return answers, sent_for, time.perf_counter()


def _recovery(client: httpx.Client, target: Target, since: float) -> float:
    while time.perf_counter() - since < 120:
        if target.send(client).status_code == 200:
            return time.perf_counter() - since
        time.sleep(0.02)
    return float("inf")


async def _bombs(url: str, count: int) -> list[Answer]:
    bomb = bomb_flac()
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def one() -> Answer:
            started = time.perf_counter()
            response = await client.post(
                "/v1/create_voice_prompt", files={"audio": ("b.flac", bomb, "audio/flac")}
            )
            return _answer(response, time.perf_counter() - started)

        return list(await asyncio.gather(*(one() for _ in range(count))))


def measure(
    *,
    endpoint: str,
    backend: str,
    rate: float,
    duration_s: float,
    latency_ms: int,
    queue_size: int,
    bombs: int,
) -> HostileReport:
    synthetic = ("--backend-options", f"latency_ms={latency_ms}") if backend == "synthetic" else ()
    args = (
        "--backend", backend, *synthetic,
        "--queue-size", str(queue_size), "--whisper", "none", "--access-log", "false",
        "--log-level", "warning", "--cache-bytes", "0",
    )  # fmt: skip
    with (
        ReferenceServerProcess(*args) as server,
        httpx.Client(base_url=server.base_url, timeout=120) as client,
    ):
        sampler = RssSampler(server.process.pid)
        sampler.start()
        target = _target(endpoint, client)
        idle = _idle(client, target, 20)
        sampler.phase = "burst"
        answers, sent_for, last = asyncio.run(_burst(server.base_url, target, rate, duration_s))
        sampler.phase = "recovery"
        recovery_s = _recovery(client, target, last)
        sampler.phase = "bomb"
        bomb_answers = asyncio.run(_bombs(server.base_url, bombs))
        sampler.stop()
    return _report(
        endpoint=endpoint,
        backend=backend,
        rate=rate,
        latency_ms=latency_ms,
        queue_size=queue_size,
        idle=idle,
        answers=answers,
        sent_for=sent_for,
        recovery_s=recovery_s,
        bombs=bomb_answers,
        sampler=sampler,
    )


def _report(
    *,
    endpoint: str,
    backend: str,
    rate: float,
    latency_ms: int,
    queue_size: int,
    idle: list[Answer],
    answers: list[Answer],
    sent_for: float,
    recovery_s: float,
    bombs: list[Answer],
    sampler: RssSampler,
) -> HostileReport:
    refused = [a for a in answers if a.status in (429, 503)]
    accepted = [a for a in answers if a.status == 200]
    other: dict[str, int] = {}
    for a in answers:
        if a.status not in (200, 429, 503):
            other[str(a.status)] = other.get(str(a.status), 0) + 1
    idle_server = statistics.median(a.server_ms or 0.0 for a in idle)
    burst_server = statistics.median([a.server_ms or 0.0 for a in accepted] or [float("nan")])
    rss = {k: round(v, 1) for k, v in sampler.peaks.items()}
    base = rss.get("idle", float("nan"))
    return HostileReport(
        endpoint=endpoint,
        backend=backend,
        latency_ms=latency_ms,
        queue_size=queue_size,
        offered_rate_target=rate,
        offered_rate_reached=round(len(answers) / sent_for, 1),
        burst_requests=len(answers),
        accepted=len(accepted),
        refused=len(refused),
        other=other,
        refusal_p50_ms=round(_pct([a.seconds * 1000 for a in refused], 50), 1),
        refusal_p99_ms=round(_pct([a.seconds * 1000 for a in refused], 99), 1),
        refusals_with_retry_after=round(
            sum(a.retry_after for a in refused) / max(1, len(refused)), 3
        ),
        idle_server_ms=round(idle_server, 1),
        burst_server_ms=round(burst_server, 1),
        server_time_ratio=round(burst_server / idle_server, 2) if idle_server else float("nan"),
        idle_client_ms=round(statistics.median(a.seconds * 1000 for a in idle), 1),
        burst_accepted_client_ms=round(_pct([a.seconds * 1000 for a in accepted], 50), 1),
        recovery_s=round(recovery_s, 3),
        bomb_statuses=sorted({a.status for a in bombs}),
        bomb_max_s=round(max(a.seconds for a in bombs), 3),
        rss_mib=rss,
        rss_ratio_burst=round(rss.get("burst", 0.0) / base, 2),
        rss_ratio_bomb=round(rss.get("bomb", 0.0) / base, 2),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m measurements.hostile_load")
    parser.add_argument("--rate", type=float, default=400.0, help="offered requests per second")
    parser.add_argument("--duration", type=float, default=5.0, help="burst seconds")
    parser.add_argument(
        "--endpoint",
        choices=["generate", "upload"],
        default="generate",
        help="burst of generations, or of 5 s WAV uploads to /v1/create_voice_prompt",
    )
    parser.add_argument("--backend", choices=["synthetic", "espeak"], default="synthetic")
    parser.add_argument("--latency-ms", type=int, default=200, help="synthetic generation time")
    parser.add_argument("--queue-size", type=int, default=4)
    parser.add_argument("--bombs", type=int, default=8, help="concurrent bomb uploads")
    parser.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args(argv)
    report = measure(
        endpoint=args.endpoint,
        backend=args.backend,
        rate=args.rate,
        duration_s=args.duration,
        latency_ms=args.latency_ms,
        queue_size=args.queue_size,
        bombs=args.bombs,
    )
    text = json.dumps(asdict(report), indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
