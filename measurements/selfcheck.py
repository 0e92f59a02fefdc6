"""How fast is the harness itself? Compare it with wrk against a null provider.

    python -m measurements.selfcheck --out results/selfcheck.json

The null provider is nginx answering ``/health`` from memory (or, without nginx, the test
provider's ``/health``), so the server is never the bottleneck. In one run on one machine it
measures the requests per second that wrk (C, one thread), the open-loop runner's closed mode and
Locust's FastHttpUser (both one Python process, one core) drive, as ratios to wrk; then the
open-loop schedule's accuracy at rising rates: achieved vs target rate and send lateness.
A harness that cannot drive a rate should not be trusted to measure a provider at that rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from benchmarks.locustrun import run_locust
from benchmarks.nginx import NginxConfig, NginxNotFoundError, find_nginx, run_nginx
from benchmarks.openloop import LoadConfig, run_load
from benchmarks.provenance import provenance
from benchmarks.results import SelfCheckReport, write_document
from benchmarks.scenarios import ScenarioSettings, load_corpus, tone_reference
from benchmarks.stats import distribution, summarize
from testkit.testing_provider import launch

__all__ = ["main", "run_selfcheck", "wrk_rps"]

_HEALTH_ONLY = ScenarioSettings(
    scenario="mixed",
    texts=tuple(load_corpus()),
    references=(tone_reference(),),
    mix={"health": 1},
)


def wrk_rps(url: str, connections: int, seconds: float) -> float | None:
    """Requests per second wrk drives with one thread; ``None`` without wrk."""
    binary = shutil.which("wrk")
    if binary is None:
        return None
    completed = subprocess.run(
        [binary, "-t1", f"-c{connections}", f"-d{seconds:g}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", completed.stdout)
    return float(match.group(1)) if match else None


@contextlib.contextmanager
def _null_provider(workdir: Path) -> Iterator[tuple[str, str]]:
    try:
        find_nginx()
    except NginxNotFoundError:
        with launch(workdir, "--service", "fixed:0") as (url, _):
            yield url, "test provider /health (nginx not installed)"
        return
    with run_nginx(NginxConfig(null_health=True), workdir) as url:
        yield url, "nginx static /health"


def _harness(url: str, connections: int, seconds: float) -> dict[str, float]:
    load = LoadConfig(
        host=url, mode="closed", rate=0.0, duration_s=seconds, concurrency=connections
    )
    outcome = asyncio.run(run_load(load, _HEALTH_ONLY, check_fraction=0.0))
    summary = summarize(outcome.records, seconds)
    return {"rps": summary.ok_rps, "errors": float(summary.errors), "cpu": outcome.client_cpu}


def _locust(url: str, workdir: Path, users: int, seconds: float) -> dict[str, float]:
    run = run_locust(
        url,
        workdir / "locust-selfcheck",
        users=users,
        run_time_s=seconds,
        scenario="mixed",
        stop_timeout_s=2,
        extra=["--mix", "health=1", "--check-fraction", "0"],
    )
    summary = run.result.summary
    cpus = run.result.config.client_cpu_by_process or [0.0]
    return {"rps": summary.ok_rps, "errors": float(summary.errors), "cpu": float(max(cpus))}


def _accuracy(url: str, rate: float, seconds: float) -> dict[str, float]:
    load = LoadConfig(
        host=url, rate=rate, duration_s=seconds, schedule="constant", concurrency=1024
    )
    outcome = asyncio.run(run_load(load, _HEALTH_ONLY, check_fraction=0.0))
    summary = summarize(outcome.records, seconds)
    achieved = summary.sent / max(seconds, outcome.send_span_s or seconds)
    queue = summary.queue_time
    return {
        "target_rps": rate,
        "achieved_rps": achieved,
        "ratio": achieved / rate,
        "queue_p50_ms": queue.p50 if queue else 0.0,
        "queue_p99_ms": queue.p99 if queue else 0.0,
        "dropped": float(summary.dropped),
        "client_cpu": outcome.client_cpu,
        "loop_lag_p99_ms": lag.p99 if (lag := distribution(outcome.loop_lag_ms)) else 0.0,
    }


def run_selfcheck(
    workdir: Path,
    *,
    seconds: float = 5.0,
    connections: int = 32,
    rates: Sequence[float] = (100.0, 300.0, 600.0, 1000.0),
    locust: bool = True,
) -> SelfCheckReport:
    started = time.time()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    with _null_provider(workdir) as (url, description):
        health = f"{url}/health"
        wrk = wrk_rps(health, connections, seconds)
        clients = {"openloop-closed": _harness(url, connections, seconds)}
        if locust:
            clients["locust-fasthttp"] = _locust(url, workdir, connections, seconds)
        for figures in clients.values():
            figures["ratio_to_wrk"] = figures["rps"] / wrk if wrk else 0.0
        accuracy = [_accuracy(url, rate, seconds) for rate in rates]
    cores = os.cpu_count() or 1
    return SelfCheckReport(
        provenance=provenance(
            "measurements.selfcheck",
            description,
            started_at=started,
            notes=[
                f"load average {load:.2f} on {cores} cores at the start",
                "wrk: one thread, the same connection count; Python clients: one process",
            ],
        ),
        null_provider=description,
        wrk_rps=wrk,
        clients=clients,
        schedule_accuracy=accuracy,
        provisional=cores <= 2 or load > 0.5 * cores,
    )


def format_selfcheck(report: SelfCheckReport) -> str:
    lines = [f"null provider: {report.null_provider}; wrk {report.wrk_rps or 0:.0f} req/s"]
    for name, f in report.clients.items():
        lines.append(
            f"{name}: {f['rps']:.0f} req/s ({f['ratio_to_wrk']:.2f} x wrk), "
            f"CPU {f['cpu']:.0%} of a core"
        )
    for a in report.schedule_accuracy:
        lines.append(
            f"open loop {a['target_rps']:.0f}/s: achieved {a['achieved_rps']:.1f}/s "
            f"({a['ratio']:.3f}), send lateness p50 {a['queue_p50_ms']:.2f} ms "
            f"p99 {a['queue_p99_ms']:.2f} ms, CPU {a['client_cpu']:.0%}"
        )
    if report.provisional:
        lines.append("PROVISIONAL: measured on a small or busy machine")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m measurements.selfcheck")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rates", default="100,300,600,1000")
    parser.add_argument("--no-locust", action="store_true")
    parser.add_argument("--out", default="results/selfcheck.json")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vb-selfcheck-") as workdir:
        report = run_selfcheck(
            Path(workdir),
            seconds=options.seconds,
            connections=options.connections,
            rates=[float(r) for r in options.rates.split(",")],
            locust=not options.no_locust,
        )
    write_document(report, options.out)
    print(format_selfcheck(report))
    print(f"written to {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
