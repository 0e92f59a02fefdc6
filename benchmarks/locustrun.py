"""Run the locustfile headless in child processes (standalone, or a master with workers) and
read back its exact results document. Used by the tests and the comparison scripts."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.results import RunResult
from orchestration.processes import REPO_ROOT, ManagedProcess, free_port

__all__ = ["LOCUSTFILE", "LocustRun", "LocustRunError", "run_locust"]

LOCUSTFILE = REPO_ROOT / "benchmarks" / "locustfile.py"
_EXTRA_WAIT_S = 60.0


class LocustRunError(RuntimeError):
    """Locust did not finish in time or wrote no results."""


@dataclass(frozen=True)
class LocustRun:
    result: RunResult
    returncode: int
    results_path: Path
    log_path: Path
    worker_logs: tuple[Path, ...] = ()


def _locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def run_locust(
    host: str,
    workdir: Path,
    *,
    users: int,
    run_time_s: float,
    spawn_rate: float | None = None,
    scenario: str = "generate",
    workers: int = 0,
    stop_timeout_s: float = 10.0,
    extra: Sequence[str] = (),
) -> LocustRun:
    """Run Locust headless for ``run_time_s`` seconds; with ``workers``, distributed."""
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "locust-results.json"
    common = [
        "--headless",
        "--host", host,
        "-u", str(users),
        "-r", str(spawn_rate or users),
        "-t", f"{run_time_s:g}s",
        "--stop-timeout", f"{stop_timeout_s:g}",
        "--scenario", scenario,
        "--results-json", str(results),
        "--csv", str(workdir / "locust"),
        "--only-summary",
        *extra,
    ]  # fmt: skip
    master_args: list[str] = []
    port = free_port()
    if workers:
        master_args = [
            "--master",
            "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(port),
            "--expect-workers", str(workers),
            "--expect-workers-max-wait", "30",
        ]  # fmt: skip
    master = ManagedProcess(
        _locust(*common, *master_args), workdir / "locust-master.log", name="locust"
    )
    worker_processes = [
        ManagedProcess(
            _locust("--worker", "--master-host", "127.0.0.1", "--master-port", str(port)),
            workdir / f"locust-worker-{i}.log",
            name=f"locust worker {i}",
        )
        for i in range(workers)
    ]
    with contextlib.ExitStack() as stack:
        stack.enter_context(master)
        for worker in worker_processes:
            stack.enter_context(worker)
        try:
            code = master.wait(timeout=run_time_s + stop_timeout_s + _EXTRA_WAIT_S)
        except Exception as exc:
            raise master.fail(f"did not finish in time ({exc})") from None
        for worker in worker_processes:
            with contextlib.suppress(Exception):
                worker.wait(timeout=10)
    if not results.exists():
        raise master.fail(f"exited {code} without writing {results.name}")
    return LocustRun(
        result=RunResult.model_validate_json(results.read_bytes()),
        returncode=code,
        results_path=results,
        log_path=master.log_path,
        worker_logs=tuple(w.log_path for w in worker_processes),
    )
