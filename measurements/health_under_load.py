"""How fast ``/health`` answers while generations are in flight (SPEC.md CON-3).

Starts a reference server subprocess, measures ``GET /health`` on an idle server, then keeps
``--in-flight`` generations running (each client thread sends its next request as soon as the
previous one is answered) while polling ``/health`` every ``--interval-ms``. Prints p50/p99/max
for both phases. Target: p99 under 50 ms while 8 generations are in flight.

The backend is espeak when it is installed (real synthesis, CPU-bound), else synthetic with a
fixed latency, which shows the serving layer but not contention with a CPU-bound backend.

    python -m measurements.health_under_load [--backend auto] [--duration 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from orchestration.processes import ReferenceServerProcess
from reference_server.backends.registry import BackendUnavailableError, ensure_available
from voicebox_api import write_audio

__all__ = ["HealthReport", "main", "measure"]

TARGET_P99_MS = 50.0
_SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things with her.",
    "A large container of fresh orange juice stood on the kitchen table.",
    "We will meet at the station at half past seven tomorrow morning.",
)


@dataclass(frozen=True)
class Phase:
    polls: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    failures: int


@dataclass(frozen=True)
class HealthReport:
    backend: str
    in_flight: int
    idle: Phase
    loaded: Phase
    generations: int
    generation_errors: int
    generation_median_s: float


def _voiced(seconds: float = 2.0, rate: int = 24_000) -> bytes:
    """A buzzy, gliding, syllable-modulated signal: enough like speech for any backend."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 130.0 * (1 + 0.15 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    buzz = sum(np.sin(k * phase) / k for k in range(1, 12))
    signal = 0.15 * np.asarray(buzz) * 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    return write_audio(signal.astype(np.float32), rate)


def _poll(client: httpx.Client, seconds: float, interval_s: float) -> Phase:
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            ok = client.get("/health").status_code == 200
        except httpx.HTTPError:
            ok = False
        latencies.append((time.perf_counter() - started) * 1000)
        failures += not ok
        time.sleep(max(0.0, interval_s - (time.perf_counter() - started)))
    ordered = sorted(latencies)
    return Phase(
        polls=len(ordered),
        p50_ms=round(statistics.median(ordered), 2),
        p99_ms=round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 2),
        max_ms=round(ordered[-1], 2),
        failures=failures,
    )


def measure(
    base_url: str, *, backend: str, in_flight: int, duration_s: float, interval_s: float
) -> HealthReport:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        prompt_response = client.post(
            "/v1/create_voice_prompt", files={"audio": ("ref.wav", _voiced(), "audio/wav")}
        )
        prompt_response.raise_for_status()
        prompt = prompt_response.json()["voice_prompt"]
        idle = _poll(client, min(3.0, duration_s), interval_s)
        stop = threading.Event()
        durations: list[float] = []
        errors: list[int] = []

        def generate_until_stopped(index: int) -> None:
            with httpx.Client(base_url=base_url, timeout=300) as own:
                count = 0
                while not stop.is_set():
                    body: dict[str, Any] = {
                        "text": _SENTENCES[(index + count) % len(_SENTENCES)],
                        "voice_prompt": prompt,
                    }
                    started = time.perf_counter()
                    response = own.post("/v1/generate", json=body)
                    if response.status_code == 200:
                        durations.append(time.perf_counter() - started)
                    else:
                        errors.append(response.status_code)
                    count += 1

        workers = [
            threading.Thread(target=generate_until_stopped, args=(i,), daemon=True)
            for i in range(in_flight)
        ]
        for worker in workers:
            worker.start()
        time.sleep(0.5)  # let every client get its first request in
        loaded = _poll(client, duration_s, interval_s)
        stop.set()
        for worker in workers:
            worker.join(300)
    return HealthReport(
        backend=backend,
        in_flight=in_flight,
        idle=idle,
        loaded=loaded,
        generations=len(durations),
        generation_errors=len(errors),
        generation_median_s=round(statistics.median(durations), 3) if durations else 0.0,
    )


def _choose_backend(name: str, model: str | None) -> tuple[str, tuple[str, ...]]:
    if name == "auto":
        try:
            ensure_available("espeak")
            name = "espeak"
        except BackendUnavailableError:
            name = "synthetic"
    if name == "synthetic":
        return name, ("--backend", "synthetic", "--backend-options", "latency_ms=500")
    return name, ("--backend", name, *(("--model", model) if model else ()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--backend", default="auto", help="auto (espeak if installed), espeak, synthetic"
    )
    parser.add_argument("--model", help="model path or hub id (qwen)")
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds under load")
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1, help="server inference workers")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    backend, server_args = _choose_backend(args.backend, args.model)
    extra = ("--whisper", "none", "--access-log", "false", "--log-level", "warning",
             "--workers", str(args.workers), "--cache-bytes", "0")  # fmt: skip
    with ReferenceServerProcess(*server_args, *extra) as server:
        report = measure(
            server.base_url,
            backend=backend,
            in_flight=args.in_flight,
            duration_s=args.duration,
            interval_s=args.interval_ms / 1000.0,
        )
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return 0


def _print(report: HealthReport) -> None:
    verdict = "meets" if report.loaded.p99_ms < TARGET_P99_MS else "MISSES"
    print(f"/health latency, backend {report.backend}, {report.in_flight} generations in flight")
    for label, phase in (("idle", report.idle), ("loaded", report.loaded)):
        print(
            f"  {label:6}  p50 {phase.p50_ms:7.2f} ms  p99 {phase.p99_ms:7.2f} ms  "
            f"max {phase.max_ms:7.2f} ms  ({phase.polls} polls, {phase.failures} not 200)"
        )
    print(
        f"  under load: {report.generations} generations answered "
        f"(median {report.generation_median_s:.2f} s each), {report.generation_errors} errors; "
        f"p99 {verdict} the {TARGET_P99_MS:g} ms target"
    )


if __name__ == "__main__":
    sys.exit(main())
