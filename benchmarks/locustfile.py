"""Locust scenarios for a Voicebox provider, with exact metrics, correctness checks and a quit gate.

    locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000            # web UI
    locust -f benchmarks/locustfile.py --host URL --headless -u 8 -r 2 -t 60s \\
        --scenario clone-and-generate --csv out/run --html out/run.html \\
        --results-json out/run.json --slo-p95-ms 2000 --max-error-ratio 0.01

Scenarios (``--scenario``): ``generate`` (steady generation with one shared voice prompt),
``clone-and-generate`` (each user clones a voice in ``on_start``, then generates: the Voicebox
workflow), ``transcribe``, ``mixed`` (weighted, ``--mix``) and ``health-under-load``.
Load shapes (``--shape``): ``step``, ``sweep``, ``saturation`` (see ``benchmarks/shapes.py``).

Users are ``FastHttpUser``: it sends the exact bytes the scenario built and never retries, so
every failure and every millisecond is the provider's. (The kit's client retries 429/503 and
connect errors with backoff, which is right for an application and wrong for a load test.)

What Locust lacks and this file adds, exactly (every latency recorded, no rounded buckets):
RTF, audio seconds per second, request/response bytes, goodput against ``--slo-latency-ms``,
served-by counts, Server-Timing, and sampled full decoding of the audio (``--check-fraction``;
garbage counts as a failure). They are shown in a "Voicebox" tab of the web UI, written to
``<csv prefix>_voicebox.csv`` and, with everything else, to ``--results-json``. In distributed
runs workers ship their exact records to the master (``report_to_master``), and a flush at stop
makes sure none is lost. The exit code is 1 when an SLO (exact p95/p99, error ratio) is missed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # Locust imports this file by path; the kit's packages live beside it.
    sys.path.insert(0, _ROOT)

import gevent  # noqa: E402
import gevent.lock  # noqa: E402
import psutil  # noqa: E402
from locust import FastHttpUser, LoadTestShape, events, task  # noqa: E402
from locust.runners import MasterRunner, WorkerRunner  # noqa: E402

from benchmarks.options import (  # noqa: E402
    add_scenario_arguments,
    add_verdict_arguments,
    scenario_settings,
    slo_latency_ms,
    slo_thresholds,
    validity_thresholds,
)
from benchmarks.provenance import fetch_health, provenance  # noqa: E402
from benchmarks.records import request_record  # noqa: E402
from benchmarks.responses import Outcome, interpret  # noqa: E402
from benchmarks.results import RequestRecord, RunConfig, RunResult, write_document  # noqa: E402
from benchmarks.scenarios import PreparedRequest, RequestFactory, ScenarioSettings  # noqa: E402
from benchmarks.shapes import (  # noqa: E402
    SaturationRule,
    Step,
    measure_step,
    saturation_reason,
    step_plan,
    sweep_rates,
)
from benchmarks.stats import summarize  # noqa: E402
from benchmarks.streaming import StreamRecord, read_chunks  # noqa: E402
from benchmarks.verdicts import check_validity, evaluate_slo  # noqa: E402
from voicebox_api import STREAM_MEDIA_TYPE, StreamProtocolError  # noqa: E402

_FLUSH_GRACE_S = 10.0
_REPORT_LAG_S = 3.5  # workers report every 3 s; a step is judged once its records are in
_LOCAL_LAG_S = 1.0  # lets requests started near a step's end complete before it is judged


class _Collector:
    """This process's exact records; on the master, everyone's."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.records: list[RequestRecord] = []
        self.unsent: list[RequestRecord] = []
        self.steps: list[Any] = []
        self.started_at = time.time()
        self.stopped_at: float | None = None
        self.cpu = psutil.Process()
        self.cpu0 = self._cpu()
        self.flushed: set[str] = set()
        self.worker_cpu: dict[str, float] = {}
        self.notes: list[str] = []
        self.health: tuple[dict[str, Any] | None, str | None] = (None, None)

    def _cpu(self) -> float:
        times = self.cpu.cpu_times()
        return float(times.user + times.system)

    def cpu_fraction(self) -> float:
        wall = (self.stopped_at or time.time()) - self.started_at
        return (self._cpu() - self.cpu0) / max(wall, 1e-9)

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)
        self.unsent.append(record)

    def drain(self) -> list[dict[str, Any]]:
        batch, self.unsent = self.unsent, []
        return [r.model_dump(mode="json") for r in batch]

    def absorb(self, batch: list[dict[str, Any]]) -> None:
        self.records.extend(RequestRecord.model_validate(item) for item in batch)


COLLECTOR = _Collector()
_Listener = TypeVar("_Listener", bound=Callable[..., Any])


def _on(hook: Any) -> Callable[[_Listener], _Listener]:
    """``@events.x.add_listener`` with types: Locust's hooks are untyped."""

    def register(listener: _Listener) -> _Listener:
        hook.add_listener(listener)
        return listener

    return register


_PACING: dict[str, float] = {"user_rate": 0.0}
_SHARED_PROMPT: dict[str, Any] = {}
_SHARED_PROMPT_LOCK = gevent.lock.Semaphore()
_SETTINGS: dict[str, ScenarioSettings] = {}


# --- Options -------------------------------------------------------------------------------------


@_on(events.init_command_line_parser)
def _add_options(parser: Any) -> None:
    # On the parser itself, not a group: Locust shows only those in its web UI's form.
    add_scenario_arguments(parser, locust=True)
    add_verdict_arguments(parser)
    parser.add_argument("--results-json", help="write the exact results document here")
    parser.add_argument(
        "--user-rate",
        type=float,
        default=0.0,
        help="requests per second per user (constant throughput); 0 = no waiting",
    )
    parser.add_argument(
        "--shape",
        choices=["none", "step", "sweep", "saturation"],
        default="none",
        help="load shape; none uses -u/-r/-t",
    )
    parser.add_argument("--step-users", type=int, default=2, help="step/saturation: users added")
    parser.add_argument("--step-seconds", type=float, default=20.0, help="seconds per step")
    parser.add_argument("--max-users", type=int, default=64, help="step/sweep: most users")
    parser.add_argument(
        "--sweep-fractions",
        default="0.25,0.5,0.75,0.9",
        help="sweep: rates between baseline and saturation throughput",
    )


def _settings(environment: Any) -> ScenarioSettings:
    if "current" not in _SETTINGS:
        _SETTINGS["current"] = scenario_settings(environment.parsed_options)
    return _SETTINGS["current"]


# --- The user --------------------------------------------------------------------------------


def _error_class(error: BaseException | None) -> str:
    if error is None:
        return "transport_error"
    name = type(error).__name__.lower()
    if "timeout" in name:
        return "timeout"
    if isinstance(error, ConnectionRefusedError) or "refused" in str(error).lower():
        return "connect_error"
    return "transport_error"


class ProviderUser(FastHttpUser):
    """One simulated Voicebox client."""

    connection_timeout = 5.0
    network_timeout = 120.0
    _streams = 0

    def wait_time(self) -> float:
        rate = _PACING["user_rate"] or float(self.environment.parsed_options.user_rate or 0.0)
        if rate <= 0:
            return 0.0
        # Locust's constant_throughput: wait out the rest of this user's interval, if any.
        return max(0.0, self._last_start + 1.0 / rate - time.monotonic())

    def on_start(self) -> None:
        ProviderUser._streams += 1
        settings = _settings(self.environment)
        worker_index = getattr(self.environment.runner, "worker_index", 0) or 0
        stream = ProviderUser._streams + 100_000 * worker_index
        self.factory = RequestFactory(settings, stream=stream)
        self._check = random.Random(f"check:{settings.seed}:{stream}")
        self._last_start = time.monotonic()
        self.voice_prompt: dict[str, Any] | None = None
        if settings.needs_voice_prompt:
            self.voice_prompt = self._voice_prompt(settings)

    def _voice_prompt(self, settings: ScenarioSettings) -> dict[str, Any] | None:
        if settings.prompt_per_user:
            return self.send(self.factory.create_voice_prompt())
        with _SHARED_PROMPT_LOCK:  # the first user makes it; the others wait and share it
            if "prompt" not in _SHARED_PROMPT:
                prompt = self.send(self.factory.create_voice_prompt())
                if prompt is None:
                    return None
                _SHARED_PROMPT["prompt"] = prompt
            return dict(_SHARED_PROMPT["prompt"])

    @task
    def next_request(self) -> None:
        self._last_start = time.monotonic()
        operation = self.factory.next_operation()
        settings = _settings(self.environment)
        if operation == "generate" and self.voice_prompt is None and settings.needs_voice_prompt:
            self.voice_prompt = self._voice_prompt(settings)
            if self.voice_prompt is None:
                return
        self.send(self.factory.build(operation, self.voice_prompt))

    def send(self, prepared: PreparedRequest) -> dict[str, Any] | None:
        """Send one request, judge it, record it exactly; returns a voice prompt if made."""
        fraction = float(self.environment.parsed_options.check_fraction)
        check = self._check.random() < fraction
        streamed = prepared.headers.get("Accept") == STREAM_MEDIA_TYPE
        started = time.perf_counter()
        stream: StreamRecord | None = None
        with self.client.request(
            prepared.method,
            prepared.path,
            data=cast(Any, prepared.body),  # geventhttpclient sends bytes as they are
            headers=dict(prepared.headers),
            name=prepared.path,
            catch_response=True,
            stream=streamed,
        ) as response:
            meta = response.request_meta
            status = int(response.status_code or 0)
            if status == 0:
                error = _error_class(getattr(response, "error", None))
                outcome = Outcome(False, error, str(meta.get("exception"))[:200])
            elif streamed and status == 200:
                stream = StreamRecord(intended_at=started, sent_at=started, status=status)
                outcome = _read_stream(response, stream)
            else:
                outcome = interpret(
                    prepared.operation,
                    status,
                    response.content or b"",
                    check=check,
                    dialect=prepared.dialect,
                )
            if outcome.ok:
                response.success()
            else:
                response.failure(f"{outcome.error_class}: {outcome.error_detail}")
        service_ms = float(meta["response_time"])
        if stream is not None:  # Locust's time stops at the headers of a streamed answer
            service_ms = (time.perf_counter() - started) * 1000
        start = float(meta["start_time"])
        COLLECTOR.add(
            request_record(
                prepared,
                outcome,
                intended_at=start,  # a closed loop: nothing is scheduled ahead of the send
                sent_at=start,
                service_ms=service_ms,
                status=status or None,
                response_bytes=int(meta.get("response_length") or 0),
                headers=response.headers or {},
                worker=_worker_name(self.environment),
                stream=stream,
            )
        )
        return outcome.voice_prompt


def _read_stream(response: Any, stream: StreamRecord) -> Outcome:
    """Read a streamed answer (SPEC.md §14) as it arrives, timing every audio frame."""
    try:
        read_chunks(response.iter_content(chunk_size=65536, decode_content=False), stream)
    except StreamProtocolError as exc:
        return Outcome(False, f"broken_stream.{exc.clause}", str(exc)[:200])
    except Exception as exc:  # geventhttpclient raises its own and socket errors mid-body
        return Outcome(False, "transport_error", f"{type(exc).__name__}: {exc}"[:200])
    return Outcome(True)


def _worker_name(environment: Any) -> str | None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return f"worker-{runner.worker_index}"
    return None


# --- Collecting across processes -------------------------------------------------------------


@_on(events.init)
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message("vb_flush", _worker_flush)
        runner.register_message("vb_rate", _set_rate)
    if isinstance(runner, MasterRunner):
        runner.register_message("vb_flushed", _master_flushed)
    if environment.web_ui is not None:
        _extend_web_ui(environment)


@_on(events.test_start)
def _on_test_start(environment: Any, **_: Any) -> None:
    COLLECTOR.reset()
    _SHARED_PROMPT.clear()
    _SETTINGS.clear()  # the web UI may have changed the options since the last run
    if not isinstance(environment.runner, WorkerRunner) and environment.host:
        COLLECTOR.health = fetch_health(environment.host)


@_on(events.reset_stats)
def _on_reset_stats(**_: Any) -> None:
    """The web UI's Reset: start counting afresh, as Locust's own statistics do."""
    health = COLLECTOR.health
    COLLECTOR.reset()
    COLLECTOR.health = health


@_on(events.report_to_master)
def _report(client_id: str, data: dict[str, Any]) -> None:
    data["vb_records"] = COLLECTOR.drain()


@_on(events.worker_report)
def _receive(client_id: str, data: dict[str, Any]) -> None:
    COLLECTOR.absorb(data.get("vb_records", []))


def _worker_flush(environment: Any, msg: Any, **_: Any) -> None:
    def flush() -> None:
        environment.runner.stop()  # let users finish (--stop-timeout), then ship the rest
        COLLECTOR.stopped_at = time.time()
        environment.runner.send_message(
            "vb_flushed", {"records": COLLECTOR.drain(), "cpu": COLLECTOR.cpu_fraction()}
        )

    gevent.spawn(flush)


def _master_flushed(environment: Any, msg: Any, **_: Any) -> None:
    COLLECTOR.absorb(msg.data["records"])
    COLLECTOR.worker_cpu[msg.node_id] = float(msg.data["cpu"])
    COLLECTOR.flushed.add(msg.node_id)


def _set_rate(environment: Any, msg: Any, **_: Any) -> None:
    _PACING["user_rate"] = float(msg.data["user_rate"])


@_on(events.test_stopping)
def _on_stopping(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        COLLECTOR.stopped_at = time.time()
        return
    workers = {client.id for client in runner.clients.all}
    runner.send_message("vb_flush")
    deadline = time.monotonic() + (environment.stop_timeout or 0) + _FLUSH_GRACE_S
    while workers - COLLECTOR.flushed and time.monotonic() < deadline:
        gevent.sleep(0.05)
    COLLECTOR.stopped_at = time.time()
    missing = sorted(workers - COLLECTOR.flushed)
    if missing:
        COLLECTOR.notes.append(f"workers that did not flush their last records: {missing}")


# --- Results and the quit gate ---------------------------------------------------------------


def build_result(environment: Any) -> RunResult:
    options = environment.parsed_options
    settings = _settings(environment)
    ended = COLLECTOR.stopped_at or time.time()
    duration = max(1e-3, ended - COLLECTOR.started_at)
    records = sorted(COLLECTOR.records, key=lambda r: r.intended_at)
    summary = summarize(
        records,
        duration,
        slo_ms=slo_latency_ms(options),
        check_fraction=float(options.check_fraction),
    )
    cpus = [COLLECTOR.cpu_fraction(), *COLLECTOR.worker_cpu.values()]
    if isinstance(environment.runner, MasterRunner):
        cpus = list(COLLECTOR.worker_cpu.values()) or cpus
    validity = check_validity(
        summary,
        validity_thresholds(options),
        client_cpu=max(cpus),
        scheduled=None,
        open_loop=False,
    )
    if COLLECTOR.notes:
        validity.valid = False
        validity.reasons.extend(COLLECTOR.notes)
    slo = slo_thresholds(options)
    return RunResult(
        provenance=provenance(
            "benchmarks.locustfile",
            environment.host or "",
            started_at=COLLECTOR.started_at,
            ended_at=ended,
            scenario=settings.scenario,
            dialect=settings.dialect,
            seeds={"requests": settings.seed, "seed_policy": settings.seed_policy},
            health=COLLECTOR.health,
            notes=COLLECTOR.notes,
        ),
        mode="locust",
        config=RunConfig(
            scenario=settings.scenario,
            mix=dict(settings.weights()),
            check_fraction=options.check_fraction,
            references=[r.name for r in settings.references],
            users=options.num_users,
            spawn_rate=options.spawn_rate,
            run_time_s=options.run_time,
            user_rate=options.user_rate,
            shape=options.shape,
            workers=len(COLLECTOR.worker_cpu),
            client_cpu_by_process=cpus,
            stop_timeout_s=environment.stop_timeout,
        ),
        summary=summary,
        validity=validity,
        slo=evaluate_slo(summary, slo) if slo.any else None,
        steps=COLLECTOR.steps,
        records=records,
    )


@_on(events.quitting)
def _on_quitting(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    options = environment.parsed_options
    result = build_result(environment)
    if options.results_json:
        write_document(result, options.results_json)
    if options.csv_prefix:
        Path(f"{options.csv_prefix}_voicebox.csv").write_text(_metrics_csv(result))
    _log_summary(result)
    if result.slo is not None and not result.slo.passed:
        environment.process_exit_code = 1


def _log_summary(result: RunResult) -> None:
    s = result.summary
    lines = [f"voicebox: {s.requests} requests, {s.ok} ok, errors {s.errors_by_class or 0}"]
    if s.latency:
        lines.append(
            f"voicebox: exact latency ms p50 {s.latency.p50:.1f} p95 {s.latency.p95:.1f} "
            f"p99 {s.latency.p99:.1f} max {s.latency.max:.1f}"
        )
    if result.slo is not None:
        lines.append(
            "voicebox: SLO " + ("met" if result.slo.passed else "; ".join(result.slo.failures))
        )
    if not result.validity.valid:
        lines.append("voicebox: run INVALID: " + "; ".join(result.validity.reasons))
    print("\n".join(lines), file=sys.stderr)


def _metrics_rows(result: RunResult) -> list[dict[str, Any]]:
    s = result.summary
    rows: list[dict[str, Any]] = []
    for name, op in s.by_operation.items():
        lat = op.latency
        rows.append(
            {
                "name": name,
                "requests": op.requests,
                "ok": op.ok,
                "errors": op.errors,
                "p50_ms": round(lat.p50, 3) if lat else "",
                "p95_ms": round(lat.p95, 3) if lat else "",
                "p99_ms": round(lat.p99, 3) if lat else "",
                "max_ms": round(lat.max, 3) if lat else "",
            }
        )
    rows.append(
        {
            "name": "Aggregated",
            "requests": s.requests,
            "ok": s.ok,
            "errors": s.errors,
            "p50_ms": round(s.latency.p50, 3) if s.latency else "",
            "p95_ms": round(s.latency.p95, 3) if s.latency else "",
            "p99_ms": round(s.latency.p99, 3) if s.latency else "",
            "max_ms": round(s.latency.max, 3) if s.latency else "",
            "rtf_p50": round(s.rtf.p50, 4) if s.rtf else "",
            "rtf_p95": round(s.rtf.p95, 4) if s.rtf else "",
            "audio_s_per_s": round(s.audio_s_per_s, 3),
            "goodput_rps": round(s.goodput.goodput_rps, 3) if s.goodput else "",
            "request_bytes": s.request_bytes,
            "response_bytes": s.response_bytes,
            "checked": s.correctness.checked if s.correctness else 0,
            "check_failures": s.correctness.failed if s.correctness else 0,
        }
    )
    return rows


def _metrics_csv(result: RunResult) -> str:
    rows = _metrics_rows(result)
    fields = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _extend_web_ui(environment: Any) -> None:
    """A "Voicebox" tab with the exact metrics, and its CSV, in Locust's web UI."""
    from flask import Response, request

    web_ui: Any = environment.web_ui
    columns = [
        "name", "requests", "ok", "errors", "p50_ms", "p95_ms", "p99_ms", "max_ms", "rtf_p50",
        "rtf_p95", "audio_s_per_s", "goodput_rps", "request_bytes", "response_bytes", "checked",
        "check_failures",
    ]  # fmt: skip
    web_ui.template_args["extended_tabs"] = [{"title": "Voicebox", "key": "voicebox"}]
    web_ui.template_args["extended_tables"] = [
        {"key": "voicebox", "structure": [{"key": c, "title": c} for c in columns]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "/voicebox/csv", "title": "Download Voicebox metrics CSV (exact)"}
    ]

    def _add_stats(response: Any) -> Any:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        with contextlib.suppress(Exception):  # a partial run must not break the UI
            rows = _metrics_rows(build_result(environment))
            payload = {**response.json, "extended_stats": [{"key": "voicebox", "data": rows}]}
            response.set_data(json.dumps(payload))
        return response

    def _csv() -> Any:
        return Response(
            _metrics_csv(build_result(environment)),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment;filename=voicebox.csv"},
        )

    web_ui.app.after_request(_add_stats)
    web_ui.app.add_url_rule("/voicebox/csv", view_func=_csv)


# --- Load shapes -----------------------------------------------------------------------------


class VoiceboxShape(LoadTestShape):
    """Runs the plan chosen with ``--shape``; with ``--shape none`` it steps aside (below)."""

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.plan: list[Step] = []
        self.index = -1
        self.step_started = 0.0
        self.stopped = False
        self.pending: list[tuple[int, Step, float, float]] = []
        self.waiting = False
        self.sweep_baseline: float | None = None

    def _options(self) -> Any:
        assert self.runner is not None
        return self.runner.environment.parsed_options

    def _start_plan(self) -> None:
        options = self._options()
        if options.shape == "sweep":
            self.plan = [
                Step(1, options.step_seconds, label="baseline: one at a time"),
                Step(options.max_users, options.step_seconds, label="saturation"),
            ]
        else:
            start = options.num_users or 1
            self.plan = step_plan(
                start, options.step_users, options.step_seconds, options.max_users
            )

    def tick(self) -> tuple[int, float] | None:
        now = time.time()
        if self.index < 0:
            self._start_plan()
            self._enter(0, now)
        self._judge_finished_steps(now)
        if self.stopped:
            return None
        step = self.plan[self.index]
        if not self.waiting and now - self.step_started >= step.seconds:
            self.pending.append((self.index, step, self.step_started, now))
            self.waiting = True
        if self.waiting:
            if self.index + 1 < len(self.plan):
                self.waiting = False
                self._enter(self.index + 1, now)
            elif not self.pending:
                return None  # every step judged and none left: the plan is done
            # else: hold this load until the last step is judged (a sweep then adds steps)
        step = self.plan[self.index]
        return step.users, float(max(1, step.users))

    def _enter(self, index: int, now: float) -> None:
        self.index = index
        self.step_started = now
        step = self.plan[index]
        rate = step.target_rps / step.users if step.target_rps else 0.0
        _PACING["user_rate"] = rate
        assert self.runner is not None
        if isinstance(self.runner, MasterRunner):
            self.runner.send_message("vb_rate", {"user_rate": rate})

    def _judge_finished_steps(self, now: float) -> None:
        lag = _REPORT_LAG_S if isinstance(self.runner, MasterRunner) else _LOCAL_LAG_S
        while self.pending and now >= self.pending[0][3] + lag:
            index, step, started, ended = self.pending.pop(0)
            measured = measure_step(
                index,
                step,
                records=COLLECTOR.records,
                started_at=started,
                ended_at=ended,
                warmup_s=1.0,
            )
            COLLECTOR.steps.append(measured)
            self._after_step(measured)

    def _after_step(self, measured: Any) -> None:
        options = self._options()
        if options.shape == "saturation":
            reason = saturation_reason(COLLECTOR.steps, SaturationRule())
            if reason is not None:
                measured.saturated, measured.reason = True, reason
                self.stopped = True
        elif options.shape == "sweep" and measured.index == 0:
            self.sweep_baseline = measured.ok_rps
        elif options.shape == "sweep" and measured.index == 1 and self.sweep_baseline is not None:
            fractions = [float(f) for f in options.sweep_fractions.split(",") if f.strip()]
            for rate in sweep_rates(self.sweep_baseline, measured.ok_rps, fractions):
                self.plan.append(
                    Step(options.max_users, options.step_seconds, rate, f"{rate:.2f} req/s")
                )


@_on(events.init)
def _choose_shape(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    if options is not None and getattr(options, "shape", "none") == "none":
        environment.shape_class = None
