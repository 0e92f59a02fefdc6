"""Load balancing behind real nginx: share, scaling, failover, and one slow backend.

    python -m benchmarks.loadbalance --backends 3 --out results/lb.json

starts N providers on loopback (by default the reference server's synthetic backend, a fixed
latency per generation and two workers each; ``--backend-cmd`` runs any other provider), puts a
generated nginx in front and measures, through nginx and identified by each response's
``X-Served-By``:

1. **share**: an open-loop run; requests served per backend and the largest deviation from 1/N;
2. **scaling**: saturated closed-loop throughput through 1, 2, ... N backends;
3. **failover**: an open-loop run during which one backend is SIGKILLed; the error burst (how
   many failed, from the first to the last error) and the recovery time (kill -> last failure);
4. **slow backend**: one backend ``--slowdown`` times slower, under round robin and under
   ``least_conn``, same open-loop load: tail latency of each policy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.nginx import RATIONALE, Balance, NginxConfig, nginx_version, run_nginx
from benchmarks.openloop import LoadConfig, run_load
from benchmarks.provenance import provenance, redact
from benchmarks.results import (
    BackendShare,
    ErrorBurst,
    FailoverResult,
    LoadBalanceReport,
    NginxSettings,
    RequestRecord,
    RunSummary,
    ScalingPoint,
    SlowBackendResult,
    write_document,
)
from benchmarks.scenarios import ScenarioSettings, load_corpus, tone_reference
from benchmarks.stats import summarize
from orchestration.processes import ManagedProcess, free_port, provider_command, wait_ready

__all__ = ["Backend", "LbConfig", "main", "run_suite"]

PARTS = ("share", "scaling", "failover", "slow")
BACKEND_LATENCY_MS = 40.0


def reference_backend(latency_ms: float = BACKEND_LATENCY_MS) -> str:
    """The default backend: the reference server's synthetic backend, ``latency_ms`` per
    generation, two generations at once (two workers, no batching) and a deep queue, with no
    cache so that every request is generated."""
    return (
        "{python} -m reference_server --port {port} --instance-id {instance_id} "
        f"--backend synthetic --backend-options latency_ms={latency_ms:g} "
        "--workers 2 --batch-window-ms 0 --queue-size 1024 --cache-bytes 0 --whisper none "
        "--access-log false --log-level warning"
    )


@dataclass(frozen=True)
class LbConfig:
    backends: int = 3
    backend_cmd: str | None = None
    """Backend command template; default: ``reference_backend()``."""
    slow_backend_cmd: str | None = None
    """Template for the slow backend; default: the default backend with ``slowdown`` times its
    latency. Required with a custom ``backend_cmd`` when the slow part runs."""
    slowdown: float = 5.0
    rate: float = 60.0
    duration_s: float = 10.0
    scaling_duration_s: float = 6.0
    loops_per_backend: int = 6
    kill_at_s: float = 4.0
    parts: tuple[str, ...] = PARTS

    def backend_command(self) -> str:
        return self.backend_cmd or reference_backend()

    def slow_command(self) -> str:
        if self.slow_backend_cmd:
            return self.slow_backend_cmd
        if self.backend_cmd:
            raise ValueError("a custom backend command needs a slow backend command too")
        return reference_backend(BACKEND_LATENCY_MS * self.slowdown)

    def commands(self) -> list[str]:
        """The templates this run starts: the backend's, and the slow one's if it runs."""
        slow = [self.slow_command()] if "slow" in self.parts else []
        return [self.backend_command(), *slow]


@dataclass
class Backend:
    instance_id: str
    address: str
    process: ManagedProcess


@contextlib.contextmanager
def _backends(
    config: LbConfig, workdir: Path, slow: frozenset[int] = frozenset()
) -> Iterator[list[Backend]]:
    with contextlib.ExitStack() as stack:
        started: list[Backend] = []
        for index in range(config.backends):
            template = config.slow_command() if index in slow else config.backend_command()
            instance = f"b{index}"
            port = free_port()
            process = ManagedProcess(
                provider_command(template, port, instance),
                workdir / f"backend-{instance}-{port}.log",
                name=f"backend {instance}",
            )
            stack.enter_context(process)
            started.append(Backend(instance, f"127.0.0.1:{port}", process))
        for backend in started:
            wait_ready(f"http://{backend.address}", backend.process)
        yield started


def _settings() -> ScenarioSettings:
    return ScenarioSettings(
        scenario="generate", texts=tuple(load_corpus()), references=(tone_reference(),)
    )


def _open_loop(
    url: str,
    config: LbConfig,
    duration_s: float | None = None,
    on_start: Callable[[], None] | None = None,
) -> list[RequestRecord]:
    load = LoadConfig(
        host=url,
        rate=config.rate,
        duration_s=duration_s or config.duration_s,
        schedule="constant",
        timeout_s=60.0,
    )
    return asyncio.run(run_load(load, _settings(), check_fraction=0.0, on_start=on_start)).records


def _nginx(backends: Sequence[Backend], balance: Balance = "round_robin") -> NginxConfig:
    return NginxConfig(upstreams=[b.address for b in backends], balance=balance)


def measure_share(config: LbConfig, workdir: Path) -> BackendShare:
    with _backends(config, workdir) as backends, run_nginx(_nginx(backends), workdir) as url:
        records = _open_loop(url, config)
    summary = summarize(records, config.duration_s)
    counts = Counter(r.served_by for r in records if r.served_by)
    total = sum(counts.values())
    ids = [f"b{i}" for i in range(config.backends)]
    share = {i: counts.get(i, 0) / total if total else 0.0 for i in ids}
    return BackendShare(
        requests={i: counts.get(i, 0) for i in ids},
        share=share,
        max_deviation=max(abs(s - 1 / config.backends) for s in share.values()),
        unattributed=sum(1 for r in records if r.ended_at and not r.served_by),
        run=summary,
    )


def measure_scaling(config: LbConfig, workdir: Path) -> list[ScalingPoint]:
    points: list[ScalingPoint] = []
    with _backends(config, workdir) as backends:
        for count in range(1, config.backends + 1):
            with run_nginx(_nginx(backends[:count]), workdir) as url:
                load = LoadConfig(
                    host=url,
                    mode="closed",
                    rate=0.0,
                    duration_s=config.scaling_duration_s,
                    concurrency=config.loops_per_backend * count,
                )
                outcome = asyncio.run(run_load(load, _settings(), check_fraction=0.0))
            summary = summarize(outcome.records, config.scaling_duration_s)
            base = points[0].ok_rps if points else summary.ok_rps
            points.append(
                ScalingPoint(
                    backends=count,
                    ok_rps=summary.ok_rps,
                    efficiency=summary.ok_rps / (count * base) if base else 0.0,
                    latency=summary.latency,
                )
            )
    return points


def measure_failover(config: LbConfig, workdir: Path) -> FailoverResult:
    killed_at: list[float] = []
    with _backends(config, workdir) as backends, run_nginx(_nginx(backends), workdir) as url:
        victim = backends[0]

        def kill() -> None:
            victim.process.kill()  # returns once the process is gone
            killed_at.append(time.time())

        timer = threading.Timer(config.kill_at_s, kill)
        started: list[float] = []

        def start_the_clock() -> None:  # kill_at_s counts from the first request, not set-up
            started.append(time.time())
            timer.start()

        try:
            records = _open_loop(url, config, on_start=start_the_clock)
        finally:
            timer.cancel()
    began = started[0] if started else time.time()
    kill_time = killed_at[0] if killed_at else began + config.kill_at_s
    failures = [r for r in records if not r.ok and r.intended_at >= kill_time - 60.0]
    after = [r for r in records if r.intended_at >= kill_time]
    first = min((r.ended_at or r.intended_at for r in failures), default=None)
    last = max((r.ended_at or r.intended_at for r in failures), default=None)
    return FailoverResult(
        killed=victim.instance_id,
        killed_after_s=kill_time - began,
        burst=ErrorBurst(
            errors=len(failures),
            first_error_after_kill_ms=(first - kill_time) * 1000 if first else None,
            last_error_after_kill_ms=(last - kill_time) * 1000 if last else None,
            burst_ms=(last - first) * 1000 if first and last else 0.0,
        ),
        recovery_ms=max(0.0, (last - kill_time) * 1000) if last else 0.0,
        requests_after_kill_by_backend=dict(Counter(r.served_by or "none" for r in after)),
        run=summarize(records, config.duration_s),
    )


def measure_slow_backend(config: LbConfig, workdir: Path) -> SlowBackendResult:
    by_policy: dict[str, RunSummary] = {}
    with _backends(config, workdir, slow=frozenset({0})) as backends:
        for balance in ("round_robin", "least_conn"):
            with run_nginx(_nginx(backends, balance), workdir) as url:
                records = _open_loop(url, config)
            by_policy[balance] = summarize(records, config.duration_s)
    return SlowBackendResult(slow_backend="b0", slowdown=config.slowdown, by_policy=by_policy)


def run_suite(config: LbConfig, workdir: Path) -> LoadBalanceReport:
    started = time.time()
    share = measure_share(config, workdir) if "share" in config.parts else None
    scaling = measure_scaling(config, workdir) if "scaling" in config.parts else []
    failover = measure_failover(config, workdir) if "failover" in config.parts else None
    slow = measure_slow_backend(config, workdir) if "slow" in config.parts else None
    nginx = NginxConfig()
    return LoadBalanceReport(
        provenance=provenance(
            "benchmarks.loadbalance",
            "nginx on loopback",
            started_at=started,
            scenario="generate",
            health=(None, None),
            notes=["Figures are provisional when the machine's CPUs are shared."],
        ),
        backends=config.backends,
        backend_command=[" ".join(redact(shlex.split(cmd))) for cmd in config.commands()],
        nginx=NginxSettings(
            version=nginx_version(),
            balance="round_robin (least_conn in the slow-backend comparison)",
            directives=nginx.directives(),
            rationale=RATIONALE,
        ),
        share=share,
        scaling=scaling,
        failover=failover,
        slow_backend=slow,
    )


def format_report(report: LoadBalanceReport) -> str:
    lines: list[str] = []
    if report.share:
        lines.append(
            f"share: {report.share.requests} (max deviation {report.share.max_deviation:.3f})"
        )
    for point in report.scaling:
        p95 = point.latency.p95 if point.latency else float("nan")
        lines.append(
            f"scaling: {point.backends} backend(s) {point.ok_rps:.1f} ok/s "
            f"(efficiency {point.efficiency:.2f}, p95 {p95:.0f} ms)"
        )
    if report.failover:
        f = report.failover
        lines.append(
            f"failover: killed {f.killed} at {f.killed_after_s:.1f} s; {f.burst.errors} errors "
            f"in {f.burst.burst_ms:.0f} ms; recovered {f.recovery_ms:.0f} ms after the kill; "
            f"after: {f.requests_after_kill_by_backend}"
        )
    if report.slow_backend:
        for policy, summary in report.slow_backend.by_policy.items():
            lat = summary.latency
            if lat:
                lines.append(
                    f"slow backend, {policy}: p50 {lat.p50:.0f} p95 {lat.p95:.0f} "
                    f"p99 {lat.p99:.0f} max {lat.max:.0f} ms; served {summary.served_by}"
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadbalance")
    parser.add_argument("--backends", type=int, default=3)
    parser.add_argument(
        "--backend-cmd",
        help="backend command template with {python}, {port}, {instance_id} "
        "(default: the reference server's synthetic backend)",
    )
    parser.add_argument(
        "--slow-backend-cmd", help="template for the slow backend (needed with --backend-cmd)"
    )
    parser.add_argument("--slowdown", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=60.0, help="open-loop req/s")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--scaling-duration", type=float, default=6.0)
    parser.add_argument("--kill-at", type=float, default=4.0, help="failover: seconds in")
    parser.add_argument("--parts", default=",".join(PARTS), help="subset of " + ",".join(PARTS))
    parser.add_argument("--out", default="results/lb.json")
    options = parser.parse_args(argv)
    parts = tuple(p.strip() for p in options.parts.split(",") if p.strip())
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts: {sorted(unknown)}")
    if options.backend_cmd and not options.slow_backend_cmd and "slow" in parts:
        parser.error("--backend-cmd needs --slow-backend-cmd for the slow part (or --parts)")
    config = LbConfig(
        backends=options.backends,
        backend_cmd=options.backend_cmd,
        slow_backend_cmd=options.slow_backend_cmd,
        slowdown=options.slowdown,
        rate=options.rate,
        duration_s=options.duration,
        scaling_duration_s=options.scaling_duration,
        kill_at_s=options.kill_at,
        parts=parts,
    )
    with tempfile.TemporaryDirectory(prefix="vb-lb-") as workdir:
        report = run_suite(config, Path(workdir))
    write_document(report, options.out)
    print(format_report(report))
    print(f"written to {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
