"""Starting, waiting for and always stopping the programs a run needs (providers, nginx, Locust).

One of each: a free port (``free_port``), a child environment with this checkout first on the
path (``python_env``), a child in its own process group that is stopped with SIGTERM then SIGKILL
when its context exits, also on errors (``ManagedProcess``), and a readiness poller that reads
``/health`` as SPEC §4 defines it (``wait_ready``): 200 (``healthy`` or ``degraded``) is ready,
503 ``loading`` is worth waiting for, ``unhealthy`` fails at once with the server's own words.
``serving`` puts the three together and retries when another program took the port meanwhile;
``ReferenceServerProcess`` is ``python -m reference_server`` served that way.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import httpx

__all__ = [
    "REPO_ROOT",
    "ManagedProcess",
    "ProcessFailedError",
    "ReferenceServerProcess",
    "free_port",
    "provider_command",
    "python_env",
    "serving",
    "wait_healthy",
    "wait_ready",
]

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
_STOP_GRACE_S: Final = 5.0
_POLL_S: Final = 0.05
_LOG_LINES: Final = 25


class ProcessFailedError(RuntimeError):
    """A child exited early, reported itself unhealthy or never became ready; the message ends
    with the meaningful tail of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def python_env(
    extra: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for a Python child: ``base`` (default ``os.environ``) with this checkout
    first on the path, unbuffered output, and ``extra`` on top."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


def provider_command(template: str, port: int, instance_id: str) -> list[str]:
    """Expand a backend command template: ``{python}``, ``{port}``, ``{instance_id}``."""
    expanded = template.format(python=sys.executable, port=port, instance_id=instance_id)
    return shlex.split(expanded)


class ManagedProcess:
    """A child process in its own group, stopped for sure when the context exits."""

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path = REPO_ROOT,
        name: str | None = None,
        stop_grace_s: float = _STOP_GRACE_S,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else python_env()
        self.cwd = cwd
        self.name = name or Path(self.argv[0]).name
        self.stop_grace_s = stop_grace_s
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        return self._started().pid

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def log_tail(self, lines: int = _LOG_LINES) -> str:
        """The log's last lines without the access-log lines of readiness polling."""
        kept = [line for line in self.log_text().splitlines() if '"GET /health' not in line]
        return "\n".join(kept[-lines:])

    def fail(self, reason: str) -> ProcessFailedError:
        return ProcessFailedError(
            f"{self.name}: {reason}\n--- {self.log_path.name} ---\n{self.log_tail()}"
        )

    def terminate(self) -> None:
        """SIGTERM the leader only, as an orchestrator asks a server to shut down gracefully."""
        self._started().send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash, as far as clients can tell."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=self.stop_grace_s)

    def stop(self) -> int | None:
        """SIGTERM the group, then SIGKILL after a grace period; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_grace_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(timeout=_STOP_GRACE_S)
        # Children that outlived their leader still belong to the group.
        self._signal(signal.SIGKILL)
        return self.process.returncode

    def wait(self, timeout: float) -> int:
        return self._started().wait(timeout=timeout)

    def _started(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.process

    def _signal(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def __enter__(self) -> Self:
        return self.start() if self.process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def wait_healthy(
    client: httpx.Client, process: ManagedProcess | None = None, timeout_s: float = 20.0
) -> float:
    """Poll ``client``'s ``/health`` until it answers 200; return the seconds it took.

    Fails at once when ``process`` exits or the server reports itself ``unhealthy``; any other
    answer (no connection yet, 503 ``loading``) is waited out until ``timeout_s``.
    """
    began = time.monotonic()
    last = "no answer"
    while time.monotonic() - began < timeout_s:
        if process is not None and not process.running():
            raise process.fail("exited before it was ready")
        try:
            response = client.get("/health")
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        else:
            if response.status_code == 200:
                return time.monotonic() - began
            status = _health_status(response)
            last = f"HTTP {response.status_code}, status {status!r}"
            if status == "unhealthy":
                raise _not_ready(process, f"reports itself unhealthy ({last})")
        time.sleep(_POLL_S)
    raise _not_ready(process, f"not ready after {timeout_s:.0f} s ({last})")


def wait_ready(
    base_url: str, process: ManagedProcess | None = None, timeout_s: float = 20.0
) -> float:
    """``wait_healthy`` for the provider at ``base_url``."""
    with httpx.Client(base_url=base_url, timeout=2.0, trust_env=False) as client:
        return wait_healthy(client, process, timeout_s)


def _health_status(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return None
    status = body.get("status") if isinstance(body, dict) else None
    return status if isinstance(status, str) else None


def _not_ready(process: ManagedProcess | None, reason: str) -> ProcessFailedError:
    return process.fail(reason) if process is not None else ProcessFailedError(reason)


@contextlib.contextmanager
def serving(
    make: Callable[[int], ManagedProcess],
    *,
    timeout_s: float = 20.0,
    attempts: int = 3,
    host: str = "127.0.0.1",
) -> Iterator[tuple[str, ManagedProcess]]:
    """Start ``make(port)`` on a free port, wait until it is ready, yield its base URL and
    process, and always stop it.

    The kernel picks the port, which another program could take before the child binds it, so a
    child that exits before it is ready is retried on a new port.
    """
    for attempt in range(1, attempts + 1):
        port = free_port(host)
        url = f"http://{host}:{port}"
        with make(port) as process:
            try:
                wait_ready(url, process, timeout_s)
            except ProcessFailedError:
                if attempt == attempts or process.running():
                    raise
                continue
            yield url, process
            return


class ReferenceServerProcess:
    """``python -m reference_server --port N ARGS`` on a free loopback port (tests, measurements).

    ``with ReferenceServerProcess("--backend", "synthetic") as server: ...`` waits until the
    server is ready and stops it (SIGTERM, then SIGKILL) on exit, errors included. Its output
    goes to ``log_path``, or to a scratch file that is read back and removed once it stopped.
    """

    def __init__(
        self, *args: str, start_timeout_s: float = 60.0, log_path: Path | None = None
    ) -> None:
        self.args = args
        self.start_timeout_s = start_timeout_s
        self._scratch = log_path is None
        self.log_path = log_path or _scratch_log("reference-server")
        self._kept_log: str | None = None
        self.base_url = ""
        self._serving: contextlib.ExitStack | None = None
        self._process: ManagedProcess | None = None

    @property
    def process(self) -> ManagedProcess:
        if self._process is None:
            raise RuntimeError("the server has not been started")
        return self._process

    @property
    def log(self) -> str:
        return self.process.log_text() if self._kept_log is None else self._kept_log

    @property
    def lines(self) -> list[str]:
        return self.log.splitlines(keepends=True)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def exited_cleanly(self) -> bool:
        """uvicorn re-raises SIGTERM once it has shut down, so -SIGTERM is a clean exit too,
        provided the application's shutdown completed."""
        clean_codes = (0, -signal.SIGTERM)
        return self.returncode in clean_codes and "Application shutdown complete" in self.log

    def _make(self, port: int) -> ManagedProcess:
        argv = [sys.executable, "-m", "reference_server", "--host", "127.0.0.1",
                "--port", str(port), *self.args]  # fmt: skip
        self._process = ManagedProcess(
            argv, self.log_path, name="reference server", stop_grace_s=30.0
        )
        return self._process

    def __enter__(self) -> ReferenceServerProcess:
        stack = contextlib.ExitStack()
        url, _ = stack.enter_context(serving(self._make, timeout_s=self.start_timeout_s))
        self.base_url, self._serving = url, stack
        return self

    def terminate(self) -> None:
        self.process.terminate()

    def wait(self, timeout_s: float = 30.0) -> int:
        return self.process.wait(timeout_s)

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.close()
        if self._scratch and self._process is not None and self._kept_log is None:
            self._kept_log = self._process.log_text()
            self.log_path.unlink(missing_ok=True)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _scratch_log(name: str) -> Path:
    handle, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    os.close(handle)
    return Path(path)
