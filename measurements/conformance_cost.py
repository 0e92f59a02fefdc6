"""What a conformance run costs: wall time and requests, measured through the real command.

Two measurements, both with ``pytest --provider-url=URL`` run from an empty directory exactly as
a provider author runs it:

1. the default run (offline judges on) against the reference server's embedded espeak backend:
   its wall time (target: under 60 s on 2 cores) and its requests;
2. a run against a provider that takes 2 s per generation (the synthetic backend with
   ``latency_ms=2000``): how many generations it asks for (target: at most about 40). Requests to
   /v1/generate that a correct provider refuses before generating (malformed bodies, wrong keys,
   unknown languages) are counted apart: they cost no inference.

``python -m measurements.conformance_cost [--slow-latency-ms 2000] [--skip-slow]`` prints a table
and writes ``--out`` JSON. Each server is a fresh ``python -m reference_server`` on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from conformance import ConformanceRecord
from orchestration.processes import ReferenceServerProcess, python_env

_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Cost:
    provider: str
    wall_s: float
    suite_s: float
    requests: int
    generate_calls: int
    generations: int
    """Generate requests answered with audio: the ones that cost a provider inference time."""
    verdicts: dict[str, int]


def measure(label: str, url: str, *pytest_args: str) -> Cost:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report"
        outside = {k: v for k, v in os.environ.items() if not k.startswith(("TTS_", "WHISPER_"))}
        env = python_env(base=outside)
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--provider-url",
                url,
                "--conformance-report",
                str(report),
                *pytest_args,
            ],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
        wall = time.perf_counter() - started
        record = ConformanceRecord.model_validate_json((report / "conformance.json").read_text())
    return Cost(
        provider=label,
        wall_s=round(wall, 1),
        suite_s=round(record.provenance.duration_s, 1),
        requests=record.requests.total,
        generate_calls=record.requests.generate_calls or 0,
        generations=record.requests.generations or 0,
        verdicts={v.value: n for v, n in record.summary.items() if n},
    )


def _default_run() -> Cost:
    with ReferenceServerProcess() as server:
        return measure("reference server, espeak (default run, judges on)", server.base_url)


def _slow_run(latency_ms: int) -> Cost:
    args = (
        "--backend",
        "synthetic",
        "--backend-options",
        f"latency_ms={latency_ms}",
        "--whisper",
        "none",
    )
    with ReferenceServerProcess(*args) as server:
        return measure(
            f"synthetic, {latency_ms} ms per generation",
            server.base_url,
            "--asr-judge",
            "none",
            "--speaker-judge",
            "none",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow-latency-ms", type=int, default=2000)
    parser.add_argument("--skip-slow", action="store_true")
    parser.add_argument("--out", type=Path)
    options = parser.parse_args(argv)
    costs = [_default_run()]
    if not options.skip_slow:
        costs.append(_slow_run(options.slow_latency_ms))
    header = ("provider", "wall s", "suite s", "requests", "generate", "with audio")
    print("{:<52} {:>7} {:>8} {:>9} {:>9} {:>10}".format(*header))
    for cost in costs:
        print(
            f"{cost.provider:<52} {cost.wall_s:>7} {cost.suite_s:>8} {cost.requests:>9} "
            f"{cost.generate_calls:>9} {cost.generations:>10}   {cost.verdicts}"
        )
    if options.out:
        options.out.write_text(json.dumps([asdict(c) for c in costs], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
