"""The provider pool under load, against real reference servers on loopback (issue 14).

1. **Failover.** Three synthetic providers (``latency_ms`` each), a steady open-loop load
   through :class:`AsyncProviderPool`; one provider is SIGKILLed mid-run. Reported: requests
   lost (failed after the pool's fallback), the error burst (requests that hit the dead
   provider first, and for how long after the kill), and latency.
2. **Routing.** Two fast providers and one slow one; the same open-loop load once with
   least-outstanding and once with round robin, in one run: p95 of each and their ratio.
3. **Connection test.** ``ping()`` in-process against a reference server, and the wall time of
   ``python -m voicebox_api.ping`` as a fresh process (imports included).

Loopback only, bounded (about a minute). Figures depend on the machine's load: the output
records the load average, and the 2-core development machine is shared.

    python -m measurements.pool_failover [--rate 20] [--duration 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orchestration.processes import ReferenceServerProcess
from voicebox_api import (
    AsyncProviderPool,
    BreakerPolicy,
    PoolConfig,
    ProviderSpec,
    RoutingPolicy,
    Settings,
    write_audio,
)
from voicebox_api.ping import ping

__all__ = ["main"]

_SERVER = ("--backend", "synthetic", "--whisper", "none", "--cache-bytes", "0")


@dataclass(frozen=True)
class Outcome:
    index: int
    intended_s: float
    ok: bool
    latency_ms: float
    provider: str
    tried: tuple[str, ...]
    error: str = ""


@contextlib.contextmanager
def servers(*latencies_ms: int) -> Iterator[list[ReferenceServerProcess]]:
    processes = [
        ReferenceServerProcess(*_SERVER, "--backend-options", f"latency_ms={ms}")
        for ms in latencies_ms
    ]
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(len(processes)) as starter:
        list(starter.map(stack.enter_context, processes))
        yield processes


def _pool(processes: Sequence[ReferenceServerProcess], policy: RoutingPolicy) -> AsyncProviderPool:
    specs = tuple(ProviderSpec(p.base_url, name=n) for p, n in zip(processes, "abc", strict=False))
    settings = Settings(connect_timeout=1.0, read_timeout=30.0)
    config = PoolConfig(specs, max_attempts=3, health_interval_s=0.5, settings=settings)
    return AsyncProviderPool(
        config, policy=policy, breaker=BreakerPolicy(failure_threshold=3, open_s=5.0)
    )


def _reference() -> bytes:
    t = np.arange(12_000) / 24_000
    return write_audio((0.3 * np.sin(2 * np.pi * 140 * t)).astype(np.float32), 24_000)


async def _open_loop(
    pool: AsyncProviderPool,
    rate: float,
    duration_s: float,
    kill: tuple[float, Callable[[], None]] | None = None,
) -> tuple[list[Outcome], float | None]:
    prompt = (await pool.create_voice_prompt(_reference(), "A reference.")).voice_prompt
    loop = asyncio.get_running_loop()
    start = loop.time()
    killed_at: float | None = None

    async def one(index: int, intended: float) -> Outcome:
        try:
            result = await pool.generate(f"Request number {index}.", prompt)
        except Exception as exc:
            latency = (loop.time() - intended) * 1000
            return Outcome(index, intended - start, False, latency, "", (), type(exc).__name__)
        latency = (loop.time() - intended) * 1000
        return Outcome(index, intended - start, True, latency, result.provider, result.tried)

    tasks = []
    for index in range(int(rate * duration_s)):
        intended = start + index / rate
        await asyncio.sleep(max(0.0, intended - loop.time()))
        if kill is not None and killed_at is None and intended - start >= kill[0]:
            kill[1]()
            killed_at = loop.time() - start
        tasks.append(asyncio.create_task(one(index, intended)))
    return list(await asyncio.gather(*tasks)), killed_at


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, int(np.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]  # nearest rank


def measure_failover(rate: float, duration_s: float, latency_ms: int) -> dict[str, Any]:
    killed: list[str] = []
    with servers(latency_ms, latency_ms, latency_ms) as processes:

        async def run() -> tuple[list[Outcome], float | None, dict[str, Any]]:
            async with _pool(processes, "least_outstanding") as pool:

                def kill_the_busiest() -> None:
                    usage = pool.usage.snapshot()
                    name = max("abc", key=lambda n: usage[n].requests if n in usage else 0)
                    processes["abc".index(name)].process.kill()
                    killed.append(name)

                await pool.poll_health()
                outcomes, killed_at = await _open_loop(
                    pool, rate, duration_s, (duration_s * 0.375, kill_the_busiest)
                )
                usage = {name: asdict(u) for name, u in pool.usage.snapshot().items()}
                return outcomes, killed_at, usage

        outcomes, killed_at, usage = asyncio.run(run())
    dead = killed[0]
    hit_dead = [o for o in outcomes if dead in o.tried]
    after_kill = [o for o in outcomes if killed_at is not None and o.intended_s >= killed_at]
    latencies = [o.latency_ms for o in outcomes if o.ok]
    return {
        "rate_rps": rate,
        "duration_s": duration_s,
        "latency_ms_per_generation": latency_ms,
        "requests": len(outcomes),
        "lost": sum(not o.ok for o in outcomes),
        "lost_errors": sorted({o.error for o in outcomes if not o.ok}),
        "killed": dead,
        "killed_at_s": killed_at,
        "error_burst_requests": len(hit_dead),
        "error_burst_window_s": (
            max(o.intended_s for o in hit_dead) - (killed_at or 0.0) if hit_dead else 0.0
        ),
        "served_by_killed_after_kill": sum(o.provider == dead for o in after_kill),
        "p50_ms": _percentile(latencies, 50),
        "p95_ms": _percentile(latencies, 95),
        "p95_ms_of_burst": _percentile([o.latency_ms for o in hit_dead], 95),
        "usage": usage,
    }


def measure_routing(rate: float, duration_s: float, fast_ms: int, slow_ms: int) -> dict[str, Any]:
    results: dict[str, Any] = {"rate_rps": rate, "duration_s": duration_s,
                               "fast_ms": fast_ms, "slow_ms": slow_ms}  # fmt: skip
    with servers(fast_ms, fast_ms, slow_ms) as processes:
        for policy in ("least_outstanding", "round_robin"):

            async def run(policy: RoutingPolicy = policy) -> list[Outcome]:
                async with _pool(processes, policy) as pool:
                    await pool.poll_health()
                    return (await _open_loop(pool, rate, duration_s))[0]

            outcomes = asyncio.run(run())
            latencies = [o.latency_ms for o in outcomes if o.ok]
            results[policy] = {
                "requests": len(outcomes),
                "lost": sum(not o.ok for o in outcomes),
                "p50_ms": _percentile(latencies, 50),
                "p95_ms": _percentile(latencies, 95),
                "share_to_slow": sum(o.provider == "c" for o in outcomes) / len(outcomes),
            }
            time.sleep(1.0)  # let the slow provider's queue drain
    results["p95_ratio_round_robin_over_least_outstanding"] = (
        results["round_robin"]["p95_ms"] / results["least_outstanding"]["p95_ms"]
    )
    return results


def measure_ping(repeats: int) -> dict[str, Any]:
    with servers(0) as (server,):
        walls = []
        for _ in range(repeats):
            report = ping(server.base_url)
            assert report.verdict == "ok", report.detail
            walls.append(report.wall_ms)
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-m", "voicebox_api.ping", server.base_url, "--json"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        cli_wall_ms = (time.perf_counter() - started) * 1000
        last = report.generation
    return {
        "in_process_wall_ms": {
            "min": min(walls),
            "median": float(np.median(walls)),
            "max": max(walls),
            "n": repeats,
        },
        "cli_process_wall_ms": cli_wall_ms,
        "cli_exit_code": process.returncode,
        "last_generation": asdict(last) if last else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="failover load, requests/s")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per load run")
    parser.add_argument("--routing-rate", type=float, default=8.0, help="routing load, req/s")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = {
        "load_average_before": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "failover": measure_failover(args.rate, args.duration, latency_ms=40),
        "routing": measure_routing(args.routing_rate, args.duration, fast_ms=50, slow_ms=400),
        "ping": measure_ping(repeats=5),
        "load_average_after": os.getloadavg(),
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
