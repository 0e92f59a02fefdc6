"""Starting and always stopping the servers a benchmark needs (providers, nginx, Locust).

Each child runs in its own process group (so that its children die with it), writes its output
to a log file, and is stopped with SIGTERM then SIGKILL when its context exits, also on errors.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import httpx

__all__ = [
    "REPO_ROOT",
    "ManagedProcess",
    "ProcessFailedError",
    "free_port",
    "provider_command",
    "python_env",
    "started",
    "wait_http_ok",
]

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
_STOP_GRACE_S: Final = 5.0


class ProcessFailedError(RuntimeError):
    """A child exited early or never became ready; the message ends with its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a Python child: this checkout first on the path."""
    env = dict(os.environ)
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
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else python_env()
        self.cwd = cwd
        self.name = name or Path(self.argv[0]).name
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
        if self.process is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def fail(self, reason: str) -> ProcessFailedError:
        return ProcessFailedError(f"{self.name}: {reason}\n--- log ---\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash, as far as clients can tell."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=_STOP_GRACE_S)

    def stop(self) -> int | None:
        """SIGTERM the group, then SIGKILL after a grace period; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(timeout=_STOP_GRACE_S)
        # Children that outlived their leader still belong to the group.
        self._signal(signal.SIGKILL)
        return self.process.returncode

    def wait(self, timeout: float) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.process.wait(timeout=timeout)

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


def wait_http_ok(url: str, process: ManagedProcess | None = None, timeout_s: float = 20.0) -> None:
    """Poll ``url`` until it answers 2xx; fail fast when the process exits."""
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process is not None and not process.running():
                raise process.fail("exited before it was ready")
            try:
                response = client.get(url)
                if response.is_success:
                    return
                last_error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last_error = type(exc).__name__
            time.sleep(0.05)
    message = f"{url} not ready after {timeout_s:.0f} s ({last_error})"
    raise process.fail(message) if process is not None else ProcessFailedError(message)


@contextlib.contextmanager
def started(
    process: ManagedProcess, ready_url: str, timeout_s: float = 20.0
) -> Iterator[ManagedProcess]:
    """Start, wait until ``ready_url`` answers, yield, and always stop."""
    with process:
        wait_http_ok(ready_url, process, timeout_s)
        yield process
