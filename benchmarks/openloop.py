"""Open-loop load: requests leave on a seeded schedule whatever the server does.

A closed-loop generator (Locust, most benchmark scripts) waits for a response before it sends
the next request, so when the server stalls it stops asking, and the stall hides in a handful of
slow samples (coordinated omission). Here every request has an *intended* send time from a
Poisson or constant-rate schedule; latency is measured from that time, lateness of the client is
recorded (``queue_ms``), requests that would exceed the concurrency cap are dropped and counted,
and a validity checklist says whether the client kept up.

    python -m benchmarks.openloop --host http://127.0.0.1:8000 --rate 20 --duration 60 \
        --schedule poisson --seed 1 --scenario generate --out results/run.json

``--mode closed`` runs the same scenario closed-loop (``--concurrency`` loops, optionally paced
to ``--rate`` in total, as Locust's ``constant_throughput``), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import math
import random
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx
import numpy as np
import psutil

from benchmarks.options import (
    add_scenario_arguments,
    add_verdict_arguments,
    scenario_settings,
    slo_thresholds,
    validity_thresholds,
)
from benchmarks.provenance import fetch_health, provenance
from benchmarks.records import request_record
from benchmarks.responses import Outcome, interpret
from benchmarks.results import RequestRecord, RunConfig, RunResult, write_document
from benchmarks.scenarios import PreparedRequest, RequestFactory, ScenarioSettings
from benchmarks.stats import distribution, summarize
from benchmarks.streaming import StreamRecord, read_stream
from benchmarks.verdicts import (
    SloThresholds,
    ValidityThresholds,
    check_validity,
    evaluate_slo,
)
from voicebox_api import STREAM_MEDIA_TYPE, SettingsError, StreamProtocolError

__all__ = [
    "LoadConfig",
    "LoadOutcome",
    "SetupError",
    "build_result",
    "main",
    "run_load",
    "schedule_offsets",
]

Schedule = Literal["poisson", "constant"]
_LEAD_S: Final = 0.05
_SHARD: Final = 8
_PROBE_S: Final = 0.005
_DRAIN_GRACE_S: Final = 5.0


class SetupError(RuntimeError):
    """The run could not start: the provider refused to make a voice prompt."""


@dataclass(frozen=True)
class LoadConfig:
    host: str
    mode: Literal["open", "closed"] = "open"
    rate: float = 10.0
    """Open: the target rate (req/s). Closed: total pacing rate; 0 sends as fast as it can."""
    duration_s: float = 30.0
    schedule: Schedule = "poisson"
    seed: int = 1
    concurrency: int = 512
    """Open: cap on requests in flight (overflow is dropped and counted). Closed: loops."""
    timeout_s: float = 60.0
    voices: int = 1
    """Voice prompts made at setup for clone-and-generate (one per simulated user)."""
    max_requests: int = 1_000_000


@dataclass
class LoadOutcome:
    """What a run produced, before it is summarised."""

    config: LoadConfig
    records: list[RequestRecord]
    setup_records: list[RequestRecord]
    started_at: float
    ended_at: float
    scheduled: int | None
    send_span_s: float | None
    client_cpu: float
    client_cpu_peak: float
    loop_lag_ms: list[float] = field(default_factory=list)
    health: tuple[dict[str, Any] | None, str | None] = (None, None)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False


def schedule_offsets(
    kind: Schedule, rate: float, duration_s: float, seed: int, max_requests: int = 1_000_000
) -> list[float]:
    """Intended send times in seconds from the start, all below ``duration_s``."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    if kind == "constant":
        count = min(max_requests, math.ceil(rate * duration_s - 1e-9))
        return [i / rate for i in range(count)]
    rng = np.random.default_rng(seed)
    offsets: list[float] = []
    now = 0.0
    while len(offsets) < max_requests:
        gaps = rng.exponential(1.0 / rate, size=1024)
        for t in (now + np.cumsum(gaps)).tolist():
            if t >= duration_s or len(offsets) >= max_requests:
                return offsets
            offsets.append(t)
        now = offsets[-1]
    return offsets


class _ShardedClient:
    """httpx clients of at most ``_SHARD`` connections each, used least-loaded first.

    httpx's pool scans all its connections for every request, which costs more than the
    request itself at a few dozen connections; small shards keep it cheap. A request always
    finds a free connection (in flight <= the cap), so none waits inside httpx, where its wait
    would be mistaken for service time.
    """

    def __init__(self, config: LoadConfig) -> None:
        shards = max(1, math.ceil(config.concurrency / _SHARD))
        timeout = httpx.Timeout(config.timeout_s, connect=min(5.0, config.timeout_s))
        limits = httpx.Limits(max_connections=_SHARD, max_keepalive_connections=_SHARD)
        self.clients = [
            httpx.AsyncClient(base_url=config.host, limits=limits, timeout=timeout, trust_env=False)
            for _ in range(shards)
        ]
        self.load = [0] * shards

    async def request(
        self, method: str, path: str, content: bytes, headers: Mapping[str, str]
    ) -> httpx.Response:
        index = min(range(len(self.load)), key=self.load.__getitem__)
        self.load[index] += 1
        try:
            return await self.clients[index].request(method, path, content=content, headers=headers)
        finally:
            self.load[index] -= 1

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, path: str, content: bytes, headers: Mapping[str, str]
    ) -> AsyncIterator[httpx.Response]:
        index = min(range(len(self.load)), key=self.load.__getitem__)
        self.load[index] += 1
        try:
            async with self.clients[index].stream(
                method, path, content=content, headers=headers
            ) as response:
                yield response
        finally:
            self.load[index] -= 1

    async def __aenter__(self) -> _ShardedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(client.aclose() for client in self.clients))


class _Clock:
    """Monotonic measurement, mapped onto the wall clock only to place events on a timeline."""

    def __init__(self) -> None:
        self.perf0 = time.perf_counter()
        self.epoch0 = time.time()

    def epoch(self, perf: float) -> float:
        return self.epoch0 + (perf - self.perf0)


class _Runner:
    def __init__(
        self, config: LoadConfig, settings: ScenarioSettings, check_fraction: float
    ) -> None:
        self.config = config
        self.check_fraction = check_fraction
        self.settings = settings
        self.factory = RequestFactory(settings, stream=0)
        self.clock = _Clock()
        self.check_rng = random.Random(f"check:{config.seed}")
        self.prompts: list[dict[str, Any]] = []
        self.records: list[RequestRecord] = []
        self.setup_records: list[RequestRecord] = []
        self.in_flight: set[asyncio.Task[None]] = set()
        self.last_sent = 0.0
        self._prompt_turn = 0

    def client(self) -> _ShardedClient:
        return _ShardedClient(self.config)

    def next_request(self) -> PreparedRequest:
        operation = self.factory.next_operation()
        prompt = None
        if operation == "generate" and self.prompts:  # openai-speech needs none
            prompt = self.prompts[self._prompt_turn % len(self.prompts)]
            self._prompt_turn += 1
        return self.factory.build(operation, prompt)

    def wants_check(self) -> bool:
        return self.check_rng.random() < self.check_fraction

    async def execute(
        self, client: _ShardedClient, prepared: PreparedRequest, intended: float, check: bool
    ) -> tuple[RequestRecord, Outcome]:
        if prepared.headers.get("Accept") == STREAM_MEDIA_TYPE:
            return await self.execute_stream(client, prepared, intended)
        sent = time.perf_counter()
        self.last_sent = max(self.last_sent, sent)
        status: int | None = None
        body = b""
        headers: Mapping[str, str] = {}
        error: tuple[str, str] | None = None
        try:
            response = await client.request(
                prepared.method, prepared.path, content=prepared.body, headers=prepared.headers
            )
            status, body, headers = response.status_code, response.content, response.headers
        except httpx.TimeoutException as exc:
            error = ("timeout", type(exc).__name__)
        except httpx.ConnectError as exc:
            error = ("connect_error", str(exc)[:200])
        except httpx.HTTPError as exc:
            error = ("transport_error", f"{type(exc).__name__}: {exc}"[:200])
        ended = time.perf_counter()
        if status is None:
            assert error is not None
            outcome = Outcome(False, error[0], error[1])
        elif check and prepared.operation == "generate":
            outcome = await asyncio.to_thread(
                functools.partial(interpret, check=True, dialect=prepared.dialect),
                prepared.operation,
                status,
                body,
            )
        else:
            outcome = interpret(
                prepared.operation, status, body, check=check, dialect=prepared.dialect
            )
        record = request_record(
            prepared,
            outcome,
            intended_at=self.clock.epoch(intended),
            sent_at=self.clock.epoch(sent),
            service_ms=(ended - sent) * 1000,
            status=status,
            response_bytes=len(body),
            headers=headers,
        )
        return record, outcome

    async def execute_stream(
        self, client: _ShardedClient, prepared: PreparedRequest, intended: float
    ) -> tuple[RequestRecord, Outcome]:
        """A streamed generation (SPEC.md §14): TTFP, frame gaps and playback stalls."""
        sent = time.perf_counter()
        self.last_sent = max(self.last_sent, sent)
        stream = StreamRecord(intended_at=intended, sent_at=sent)
        outcome = Outcome(True, None, None)
        headers: Mapping[str, str] = {}
        try:
            async with client.stream(
                prepared.method, prepared.path, prepared.body, prepared.headers
            ) as response:
                stream.status, headers = response.status_code, response.headers
                if response.status_code == 200:
                    await read_stream(response, stream)
                else:
                    body = await response.aread()
                    outcome = interpret(prepared.operation, response.status_code, body, check=False)
        except StreamProtocolError as exc:
            outcome = Outcome(False, f"broken_stream.{exc.clause}", str(exc)[:200])
        except httpx.TimeoutException as exc:
            outcome = Outcome(False, "timeout", type(exc).__name__)
        except httpx.HTTPError as exc:
            outcome = Outcome(False, "transport_error", f"{type(exc).__name__}: {exc}"[:200])
        ended = time.perf_counter()
        record = request_record(
            prepared,
            outcome,
            intended_at=self.clock.epoch(intended),
            sent_at=self.clock.epoch(sent),
            service_ms=(ended - sent) * 1000,
            status=stream.status,
            response_bytes=sum(stream.samples) * 4,
            headers=headers,
            stream=stream,
        )
        return record, outcome

    async def setup(self, client: _ShardedClient) -> None:
        if not self.settings.needs_voice_prompt:
            return
        count = self.config.voices if self.settings.prompt_per_user else 1
        for index in range(count):
            prepared = self.factory.create_voice_prompt(
                self.settings.references[index % len(self.settings.references)]
            )
            now = time.perf_counter()
            record, outcome = await self.execute(client, prepared, now, check=False)
            self.setup_records.append(record)
            if outcome.voice_prompt is None:
                raise SetupError(
                    f"POST /v1/create_voice_prompt failed ({record.error_class}: "
                    f"{record.error_detail}); cannot run {self.settings.scenario!r}"
                )
            self.prompts.append(outcome.voice_prompt)

    def dropped(self, prepared: PreparedRequest, intended: float) -> RequestRecord:
        return RequestRecord(
            id=prepared.request_id,
            operation=prepared.operation,
            intended_at=self.clock.epoch(intended),
            ok=False,
            error_class="client_overflow",
            error_detail=f"{self.config.concurrency} requests already in flight",
            request_bytes=0,
        )

    async def _send_and_record(
        self, client: _ShardedClient, prepared: PreparedRequest, intended: float, check: bool
    ) -> None:
        record, _ = await self.execute(client, prepared, intended, check)
        self.records.append(record)

    async def open_loop(self, client: _ShardedClient, offsets: Sequence[float]) -> float:
        start = time.perf_counter() + _LEAD_S
        for offset in offsets:
            intended = start + offset
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            prepared = self.next_request()
            check = self.wants_check()
            if len(self.in_flight) >= self.config.concurrency:
                self.records.append(self.dropped(prepared, intended))
                continue
            task = asyncio.create_task(self._send_and_record(client, prepared, intended, check))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
        await self.drain()
        return start

    async def closed_loop(self, client: _ShardedClient) -> float:
        loops = self.config.concurrency
        interval = loops / self.config.rate if self.config.rate > 0 else 0.0
        start = time.perf_counter() + _LEAD_S
        end = start + self.config.duration_s
        budget = [self.config.max_requests]

        async def loop(index: int) -> None:
            next_start = start + index * interval / loops
            while budget[0] > 0:
                delay = next_start - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                began = time.perf_counter()
                if began >= end:
                    return
                budget[0] -= 1
                await self._send_and_record(client, self.next_request(), began, self.wants_check())
                # Locust's constant_throughput: wait out the rest of the interval, if any.
                next_start = began + interval

        await asyncio.gather(*(loop(i) for i in range(loops)))
        return start

    async def drain(self) -> None:
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=self.config.timeout_s + _DRAIN_GRACE_S)
        for task in list(self.in_flight):
            task.cancel()


class _CpuMeter:
    """Client CPU as a fraction of one core (over the run, and the busiest second), and the
    event loop's lag: how late a 5 ms sleep wakes up. A busy or CPU-starved client stamps
    responses late, so the lag is the harness's own error bar."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0.0
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    async def _sample(self) -> None:
        last_cpu, last_wall = self._cpu(), time.perf_counter()
        while True:
            await asyncio.sleep(1.0)
            cpu, wall = self._cpu(), time.perf_counter()
            self.peak = max(self.peak, (cpu - last_cpu) / (wall - last_wall))
            last_cpu, last_wall = cpu, wall

    async def _lag(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(_PROBE_S)
            self.lags_ms.append(max(0.0, (time.perf_counter() - before - _PROBE_S) * 1000))
            await asyncio.sleep(_PROBE_S)

    def __enter__(self) -> _CpuMeter:
        self.cpu0, self.wall0 = self._cpu(), time.perf_counter()
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._sample())
        self._probe = loop.create_task(self._lag())
        return self

    def __exit__(self, *exc: object) -> None:
        for task in (self._task, self._probe):
            if task is not None:
                task.cancel()
        self.fraction = (self._cpu() - self.cpu0) / max(1e-9, time.perf_counter() - self.wall0)


async def run_load(
    config: LoadConfig,
    settings: ScenarioSettings,
    check_fraction: float = 0.1,
    on_start: Callable[[], None] | None = None,
) -> LoadOutcome:
    """Run one load test against ``config.host`` and return every record.

    ``on_start`` is called once set-up (health, voice prompts) is done, as the measured window
    opens: events timed "into the run" are timed from there, however long set-up took."""
    runner = _Runner(config, settings, check_fraction)
    health = await asyncio.to_thread(fetch_health, config.host)
    offsets = None
    if config.mode == "open":
        offsets = schedule_offsets(
            config.schedule, config.rate, config.duration_s, config.seed, config.max_requests
        )
    async with runner.client() as client:
        await runner.setup(client)
        if on_start is not None:
            on_start()
        started_at = time.time()
        began = time.perf_counter()
        interrupted, lost = False, 0
        with _CpuMeter() as cpu:
            try:
                if offsets is not None:
                    start = await runner.open_loop(client, offsets)
                else:
                    start = await runner.closed_loop(client)
            except asyncio.CancelledError:  # Ctrl-C: keep what was measured, say so
                interrupted, start = True, began + _LEAD_S
                lost = len(runner.in_flight)
                for task in list(runner.in_flight):
                    task.cancel()
    ended_at = time.time()
    runner.records.sort(key=lambda r: r.intended_at)
    notes = []
    if interrupted:
        notes.append(f"interrupted after {ended_at - started_at:.1f} s; {lost} in flight lost")
    span = None
    if offsets and not interrupted:
        # How long sending took, stretched by how late the last request left.
        span = config.duration_s + max(0.0, runner.last_sent - (start + offsets[-1]))
    return LoadOutcome(
        config=config,
        records=runner.records,
        setup_records=runner.setup_records,
        started_at=started_at,
        ended_at=ended_at,
        scheduled=len(offsets) if offsets is not None else None,
        send_span_s=span,
        client_cpu=cpu.fraction,
        client_cpu_peak=cpu.peak,
        loop_lag_ms=cpu.lags_ms,
        health=health,
        notes=notes,
        interrupted=interrupted,
    )


def build_result(
    outcome: LoadOutcome,
    settings: ScenarioSettings,
    *,
    check_fraction: float,
    slo_latency_ms: float | None = None,
    slo: SloThresholds | None = None,
    validity: ValidityThresholds | None = None,
    command: Sequence[str] | None = None,
) -> RunResult:
    config = outcome.config
    duration = config.duration_s
    if outcome.interrupted:
        duration = min(duration, max(1e-3, outcome.ended_at - outcome.started_at))
    summary = summarize(
        outcome.records,
        duration,
        slo_ms=slo_latency_ms,
        check_fraction=check_fraction,
    )
    lag = distribution(outcome.loop_lag_ms)
    report = check_validity(
        summary,
        validity or ValidityThresholds(),
        client_cpu=outcome.client_cpu,
        loop_lag=lag,
        scheduled=outcome.scheduled,
        open_loop=config.mode == "open",
        send_span_s=outcome.send_span_s,
    )
    if outcome.interrupted:
        report.valid = False
        report.reasons.insert(0, outcome.notes[0])
    seeds: dict[str, int | str | None] = {
        "schedule": config.seed if config.mode == "open" else None,
        "requests": settings.seed,
        "seed_policy": settings.seed_policy,
    }
    run_config = RunConfig(
        scenario=settings.scenario,
        mix=dict(settings.weights()),
        check_fraction=check_fraction,
        references=[r.name for r in settings.references],
        texts=len(settings.texts),
        slo_latency_ms=slo_latency_ms,
        schedule=config.schedule,
        nominal_rate_rps=config.rate,
        scheduled_rate_rps=(outcome.scheduled or 0) / config.duration_s,
        scheduled=outcome.scheduled,
        duration_s=config.duration_s,
        seed=config.seed,
        concurrency=config.concurrency,
        voices=config.voices,
        timeout_s=config.timeout_s,
        max_requests=config.max_requests,
        client_cpu=outcome.client_cpu,
        client_cpu_peak_1s=outcome.client_cpu_peak,
        client_loop_lag_ms=lag,
    )
    return RunResult(
        provenance=provenance(
            "benchmarks.openloop",
            config.host,
            started_at=outcome.started_at,
            ended_at=outcome.ended_at,
            scenario=settings.scenario,
            dialect=settings.dialect,
            seeds=seeds,
            health=outcome.health,
            command=command,
            notes=outcome.notes,
        ),
        mode="open-loop" if config.mode == "open" else "closed-loop",
        config=run_config,
        summary=summary,
        validity=report,
        slo=evaluate_slo(summary, slo) if slo is not None and slo.any else None,
        records=outcome.records,
        setup_records=outcome.setup_records,
    )


def format_summary(result: RunResult) -> str:
    """A few human lines; the JSON document holds everything."""
    s = result.summary
    lines = [
        f"{result.mode} {result.provenance.scenario} against {result.provenance.target}: "
        f"{s.requests} requests in {s.duration_s:g} s, {s.ok} ok, {s.errors} errors "
        f"{s.errors_by_class or ''}, {s.dropped} dropped",
        f"  rate: scheduled {result.config.scheduled_rate_rps or 0:.2f}/s, "
        f"ok {s.ok_rps:.2f}/s; client CPU {result.config.client_cpu or 0:.0%} of a core",
    ]
    if s.latency:
        lat = s.latency
        lines.append(
            f"  latency ms (exact, from intended send): p50 {lat.p50:.1f}  p95 {lat.p95:.1f}  "
            f"p99 {lat.p99:.1f}  p99.9 {lat.p999:.1f}  max {lat.max:.1f}"
        )
    if s.rtf:
        lines.append(
            f"  RTF p50 {s.rtf.p50:.3f} p95 {s.rtf.p95:.3f}; audio {s.audio_s_per_s:.2f} s/s"
        )
    if s.ttfp:
        lines.append(
            f"  TTFP ms (from intended send): p50 {s.ttfp.p50:.1f}  p99 {s.ttfp.p99:.1f}; "
            f"{s.underrun_requests} streams stalled, {s.stall_s or 0.0:.3f} s in all"
        )
    if s.goodput:
        lines.append(f"  goodput {s.goodput.goodput_rps:.2f}/s within {s.goodput.slo_ms:g} ms")
    verdict = "VALID" if result.validity.valid else "INVALID: " + "; ".join(result.validity.reasons)
    lines.append(f"  run: {verdict}")
    if result.slo is not None:
        lines.append("  SLO: " + ("met" if result.slo.passed else "; ".join(result.slo.failures)))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.openloop", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", required=True, help="provider base URL")
    parser.add_argument("--mode", choices=["open", "closed"], default="open")
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of scheduled load")
    parser.add_argument("--schedule", choices=["poisson", "constant"], default="poisson")
    parser.add_argument("--seed", type=int, default=1, help="seeds the arrival schedule")
    parser.add_argument(
        "--concurrency", type=int, default=512, help="open: in-flight cap; closed: loops"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request timeout, s")
    parser.add_argument("--voices", type=int, default=1, help="clone-and-generate: prompts made")
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--out", help="write the results document (JSON) here")
    parser.add_argument("--strict", action="store_true", help="exit 3 when the run is INVALID")
    add_scenario_arguments(parser)
    add_verdict_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    try:
        settings = scenario_settings(options)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = LoadConfig(
        host=options.host,
        mode=options.mode,
        rate=options.rate,
        duration_s=options.duration,
        schedule=options.schedule,
        seed=options.seed,
        concurrency=options.concurrency,
        timeout_s=options.timeout,
        voices=options.voices,
        max_requests=options.max_requests,
    )
    try:
        outcome = asyncio.run(run_load(config, settings, options.check_fraction))
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted before the measured window began; nothing to report", file=sys.stderr)
        return 130
    result = build_result(
        outcome,
        settings,
        check_fraction=options.check_fraction,
        slo_latency_ms=options.slo_latency_ms,
        slo=slo_thresholds(options),
        validity=validity_thresholds(options),
        command=[sys.executable, "-m", "benchmarks.openloop", *(argv or sys.argv[1:])],
    )
    if options.out:
        write_document(result, options.out)
    print(format_summary(result))
    if result.slo is not None and not result.slo.passed:
        return 1
    if options.strict and not result.validity.valid:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
