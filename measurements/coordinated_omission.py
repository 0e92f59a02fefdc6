"""One server stall, measured three ways: why this kit measures open-loop.

The test provider holds every request that arrives during a 2-second window in the middle of
the run. The open-loop runner keeps sending on schedule, so every request due in the window waits
and is counted; a closed-loop generator (our closed mode, and Locust) stops sending while its few
outstanding requests wait, so the stall shrinks to a handful of samples.

    python -m measurements.coordinated_omission --out results/coordinated_omission.json
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.openloop import LoadConfig, run_load
from benchmarks.provenance import provenance
from benchmarks.results import (
    RequestRecord,
    RunSummary,
    StallComparison,
    StallObservation,
    write_document,
)
from benchmarks.scenarios import ScenarioSettings, load_corpus, tone_reference
from benchmarks.stats import summarize
from testkit.testing_provider import launch, server_log

__all__ = ["StallExperiment", "compare", "main"]


@dataclass(frozen=True)
class StallExperiment:
    rate: float = 50.0
    duration_s: float = 8.0
    stall_at_s: float = 3.0
    stall_s: float = 2.0
    service: str = "fixed:10"
    closed_loops: int = 1
    affected_threshold_ms: float = 500.0
    locust: bool = False

    def provider_args(self) -> list[str]:
        return [
            "--service", self.service,
            "--stall-at", str(self.stall_at_s),
            "--stall-for", str(self.stall_s),
            "--seconds-per-char", "0.005",
        ]  # fmt: skip


def _settings() -> ScenarioSettings:
    return ScenarioSettings(
        scenario="generate", texts=tuple(load_corpus()), references=(tone_reference(),)
    )


def _observe(
    generator: str,
    *,
    description: str,
    records: Sequence[RequestRecord],
    summary: RunSummary,
    held: int,
    threshold_ms: float,
) -> StallObservation:
    affected = sum(1 for r in records if r.latency_ms is not None and r.latency_ms > threshold_ms)
    return StallObservation(
        generator=generator,
        description=description,
        summary=summary,
        affected=affected,
        server_held=held,
    )


def _held(base_url: str) -> int:
    return sum(1 for e in server_log(base_url) if "held_ms" in e)


def _run_engine(
    experiment: StallExperiment, url: str, mode: str
) -> tuple[list[RequestRecord], RunSummary]:
    config = LoadConfig(
        host=url,
        mode="open" if mode == "open" else "closed",
        rate=experiment.rate,
        duration_s=experiment.duration_s,
        schedule="constant",
        concurrency=512 if mode == "open" else experiment.closed_loops,
        timeout_s=30.0,
    )
    outcome = asyncio.run(run_load(config, _settings(), check_fraction=0.0))
    return outcome.records, summarize(outcome.records, experiment.duration_s)


def compare(experiment: StallExperiment, workdir: Path) -> StallComparison:
    """Run the same stalled provider under each generator; a fresh provider per run."""
    started = time.time()
    observations: list[StallObservation] = []
    loops = experiment.closed_loops
    for mode, description in (
        ("open", f"open loop, constant {experiment.rate:g} req/s, latency from intended time"),
        ("closed", f"closed loop, {loops} loop(s) paced to {experiment.rate:g} req/s in total"),
    ):
        with launch(workdir, *experiment.provider_args(), instance_id=mode) as (url, _):
            records, summary = _run_engine(experiment, url, mode)
            held = _held(url)
        observations.append(
            _observe(
                f"{mode}-loop",
                description=description,
                records=records,
                summary=summary,
                held=held,
                threshold_ms=experiment.affected_threshold_ms,
            )
        )
    if experiment.locust:
        from benchmarks.locustrun import run_locust

        with launch(workdir, *experiment.provider_args(), instance_id="locust") as (url, _):
            run = run_locust(
                url,
                workdir / "locust",
                users=loops,
                run_time_s=experiment.duration_s,
                extra=["--user-rate", str(experiment.rate / loops), "--check-fraction", "0"],
            )
            held = _held(url)
        observations.append(
            _observe(
                "locust",
                description=f"Locust FastHttpUser x{loops}, "
                f"constant_throughput {experiment.rate / loops:g}/s each",
                records=run.result.records,
                summary=run.result.summary,
                held=held,
                threshold_ms=experiment.affected_threshold_ms,
            )
        )
    return StallComparison(
        provenance=provenance(
            "measurements.coordinated_omission",
            "test provider on loopback",
            started_at=started,
            scenario="generate",
            notes=["Figures are provisional when the machine's CPUs are shared."],
        ),
        stall_s=experiment.stall_s,
        stall_at_s=experiment.stall_at_s,
        service=experiment.service,
        affected_threshold_ms=experiment.affected_threshold_ms,
        observations=observations,
    )


def format_comparison(report: StallComparison) -> str:
    lines = [
        f"A {report.stall_s:g} s stall at t={report.stall_at_s:g} s, service {report.service}:",
        f"{'generator':<12} {'requests':>8} {'held':>5} "
        f"{f'>{report.affected_threshold_ms:g}ms':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}",
    ]
    for o in report.observations:
        lat = o.summary.latency
        if lat is None:
            continue
        lines.append(
            f"{o.generator:<12} {o.summary.requests:>8} {o.server_held:>5} {o.affected:>7} "
            f"{lat.p50:>8.1f} {lat.p95:>8.1f} {lat.p99:>8.1f} {lat.max:>8.1f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m measurements.coordinated_omission")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--stall-at", type=float, default=4.0)
    parser.add_argument("--stall-for", type=float, default=2.0)
    parser.add_argument("--closed-loops", type=int, default=1)
    parser.add_argument("--no-locust", action="store_true", help="skip the Locust run")
    parser.add_argument("--out", default="results/coordinated_omission.json")
    options = parser.parse_args(argv)
    experiment = StallExperiment(
        rate=options.rate,
        duration_s=options.duration,
        stall_at_s=options.stall_at,
        stall_s=options.stall_for,
        closed_loops=options.closed_loops,
        locust=not options.no_locust,
    )
    with tempfile.TemporaryDirectory(prefix="vb-stall-") as workdir:
        report = compare(experiment, Path(workdir))
    write_document(report, options.out)
    print(format_comparison(report))
    print(f"written to {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
