"""The reference server as a child process on a free loopback port (tests and measurements).

``with ReferenceServerProcess("--backend", "synthetic") as server: ...`` starts
``python -m reference_server --port N ...`` (N free a moment before) with this checkout first on
the path, waits until ``/health`` answers 200, and stops the server (SIGTERM, then SIGKILL) on
exit, errors included.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Final

import httpx

__all__ = ["ReferenceServerProcess"]

_ROOT: Final = Path(__file__).resolve().parent.parent


class ReferenceServerProcess:
    def __init__(self, *args: str, start_timeout_s: float = 60.0) -> None:
        self.args = args
        self.start_timeout_s = start_timeout_s
        self.lines: list[str] = []
        self.base_url = ""
        self.returncode: int | None = None
        self._process: subprocess.Popen[str] | None = None

    @property
    def process(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise RuntimeError("the server has not been started")
        return self._process

    @property
    def log(self) -> str:
        return "".join(self.lines)

    @property
    def exited_cleanly(self) -> bool:
        """uvicorn re-raises SIGTERM once it has shut down, so -SIGTERM is a clean exit too,
        provided the application's shutdown completed."""
        clean_codes = (0, -signal.SIGTERM)
        return self.returncode in clean_codes and "Application shutdown complete" in self.log

    def __enter__(self) -> ReferenceServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "reference_server", "--host", "127.0.0.1", "--port", str(port),
             *self.args],
            cwd=_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, name="server-log", daemon=True).start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError("the server exited at start-up:\n" + self.log)
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not become ready:\n" + self.log)
                try:
                    if client.get("/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                time.sleep(0.05)

    def _read(self) -> None:
        stream = self.process.stdout
        if stream is None:
            return
        for line in stream:
            self.lines.append(line)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float = 30.0) -> int:
        self.returncode = self.process.wait(timeout=timeout_s)
        return self.returncode

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process.poll() is None:
            self.terminate()
            try:
                self.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.wait(10)
        self.returncode = self.process.returncode

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
