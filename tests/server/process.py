"""The server as a subprocess on a free loopback port, for start-up and shutdown tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class ServerProcess:
    """``python -m reference_server --port 0 ...``; waits until /health is 200."""

    def __init__(self, *args: str, start_timeout_s: float = 30.0) -> None:
        self.args = args
        self.start_timeout_s = start_timeout_s
        self.lines: list[str] = []
        self.base_url = ""
        self.returncode: int | None = None
        self._process: subprocess.Popen[str] | None = None

    @property
    def process(self) -> subprocess.Popen[str]:
        assert self._process is not None
        return self._process

    def __enter__(self) -> ServerProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "reference_server", "--port", "0", *self.args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.base_url:
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise AssertionError("server did not start:\n" + "".join(self.lines))
            time.sleep(0.02)
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while client.get("/health").status_code != 200:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError("server did not become ready:\n" + "".join(self.lines))
                time.sleep(0.02)
        return self

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = _LISTENING.search(line)
            if found:
                self.base_url = f"http://127.0.0.1:{found.group(1)}"

    @property
    def exited_cleanly(self) -> bool:
        """uvicorn re-raises SIGTERM once it has shut down, so -SIGTERM is a clean exit too,
        provided the application's shutdown completed."""
        log = "".join(self.lines)
        return self.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in log

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float = 30.0) -> int:
        self.returncode = self.process.wait(timeout=timeout_s)
        return self.returncode

    def stop(self) -> None:
        if self.process.poll() is None:
            self.terminate()
            try:
                self.wait(30)
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
