"""The parent side of the espeak-ng fork server (see ``_worker`` for why it exists).

One worker process serves the whole server process, whichever backend instances use it:
libespeak-ng has global state, so every exchange with it goes through one module-level lock.
The worker starts on first use and again after it dies or stops answering. Reads from it are
bounded in time, so a wedged worker costs one failed request, not a hung server.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "EngineError",
    "EngineInfo",
    "EngineRefusal",
    "SynthesisRequest",
    "engine_info",
    "shutdown",
    "synthesize",
]

_WORKER_SCRIPT: Final = Path(__file__).with_name("_worker.py")
_START_TIMEOUT_S: Final = 30.0
_ANSWER_GRACE_S: Final = 2.0
"""How much longer than the synthesis timeout the worker may take to answer."""
_READ_SIZE: Final = 1 << 16


class EngineError(RuntimeError):
    """espeak-ng failed or is unavailable. A server fault, not the client's; the message is safe
    to log and carries no paths."""


class EngineRefusal(EngineError):
    """The worker answered that it could not synthesise this request; it is still healthy."""


@dataclass(frozen=True)
class EngineInfo:
    sample_rate: int
    version: str


@dataclass(frozen=True)
class SynthesisRequest:
    """One utterance, in espeak's own terms."""

    text: str
    voice: str
    """An espeak voice name with an optional variant, e.g. ``en-us+m7``."""
    rate: int
    """Words per minute, 80..450."""
    pitch: int
    """0..100; 50 is the voice's own pitch."""
    range: int
    """0..100; 50 is the voice's own intonation range."""
    seed: int
    """Seeds espeak's noise generator (breathiness)."""
    read_punctuation: bool = False
    """Speak punctuation marks by name."""
    timeout: float = 60.0
    """The worker kills a synthesis that takes longer."""


class _Worker:
    """One worker process and the unbuffered pipes to it."""

    def __init__(self) -> None:
        library, data_parent = _bundled_library()
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(_WORKER_SCRIPT), library, data_parent],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=data_parent,
            env={},
            bufsize=0,
        )
        self._buffer = bytearray()
        try:
            hello = self._read_header(time.monotonic() + _START_TIMEOUT_S)
            self.info = EngineInfo(
                sample_rate=int(hello["sample_rate"]), version=str(hello["version"])
            )
        except (EngineError, KeyError, ValueError):
            self.stop()
            raise

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def synthesize(self, request: SynthesisRequest) -> npt.NDArray[np.int16]:
        deadline = time.monotonic() + request.timeout + _ANSWER_GRACE_S
        self._write(json.dumps(asdict(request)).encode() + b"\n")
        header = self._read_header(deadline)
        if not header.get("ok"):
            raise EngineRefusal(f"espeak-ng: {header.get('error', 'unknown error')}")
        payload = self._read_exactly(int(header["bytes"]), deadline)
        return np.frombuffer(payload, dtype=np.int16).copy()

    def stop(self) -> None:
        """End the worker: close its input, give it a moment, then kill it."""
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def forget(self) -> None:
        """In a forked child: drop the inherited pipes, leave the parent's worker alone."""
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()
        # Mark it finished so that Popen never tries to reap a process that is not our child.
        self._process.returncode = 0

    def _write(self, data: bytes) -> None:
        stdin = self._process.stdin
        if stdin is None:  # pragma: no cover - Popen was given pipes
            raise EngineError("the espeak-ng worker has no input pipe")
        stdin.write(data)
        stdin.flush()

    def _read_header(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            self._fill(deadline)
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        header = json.loads(line)
        if not isinstance(header, dict):
            raise EngineError("the espeak-ng worker answered nonsense")
        return header

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _fill(self, deadline: float) -> None:
        stdout = self._process.stdout
        if stdout is None:  # pragma: no cover - Popen was given pipes
            raise EngineError("the espeak-ng worker has no output pipe")
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([stdout], [], [], max(remaining, 0.0))
        if not ready:
            self._process.kill()
            self._process.wait()
            raise EngineError("the espeak-ng worker stopped answering")
        chunk = os.read(stdout.fileno(), _READ_SIZE)
        if not chunk:
            raise EngineError("the espeak-ng worker exited")
        self._buffer += chunk


_LOCK = threading.Lock()
_worker: _Worker | None = None


def synthesize(request: SynthesisRequest) -> npt.NDArray[np.int16]:
    """Synthesise one utterance; int16 samples at ``engine_info().sample_rate``."""
    global _worker  # noqa: PLW0603 - the one process-wide worker
    with _LOCK:
        worker = _running_worker()
        try:
            return worker.synthesize(request)
        except EngineRefusal:
            raise
        except (OSError, ValueError, KeyError, EngineError) as exc:
            # The exchange broke off mid-way: the pipes are out of step, start afresh next time.
            worker.stop()
            _worker = None
            if isinstance(exc, EngineError):
                raise
            raise EngineError("lost contact with the espeak-ng worker") from None


def engine_info() -> EngineInfo:
    """The sample rate and version of espeak-ng, starting the worker if needed."""
    with _LOCK:
        return _running_worker().info


def shutdown() -> None:
    """Stop the worker; the next synthesis starts a new one."""
    global _worker  # noqa: PLW0603
    with _LOCK:
        if _worker is not None:
            _worker.stop()
            _worker = None


def _running_worker() -> _Worker:
    global _worker  # noqa: PLW0603
    if _worker is not None and not _worker.alive:
        _worker.stop()
        _worker = None
    if _worker is None:
        if not hasattr(os, "fork"):
            raise EngineError("the espeak backend needs os.fork (Linux or macOS)")
        try:
            _worker = _Worker()
        except (OSError, ValueError, KeyError) as exc:
            raise EngineError(f"could not start espeak-ng ({type(exc).__name__})") from None
    return _worker


def _after_fork_in_child() -> None:
    # A forked server process (pre-fork servers, multiprocessing) must not share the parent's
    # worker or inherit a lock another thread held at the time of the fork.
    global _LOCK, _worker  # noqa: PLW0603
    _LOCK = threading.Lock()
    if _worker is not None:
        _worker.forget()
        _worker = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _bundled_library() -> tuple[str, str]:
    """The shared library and the directory holding ``espeak-ng-data``, from espeakng-loader."""
    try:
        import espeakng_loader
    except ImportError:
        raise EngineError(
            "espeakng-loader is not installed: pip install 'voicebox-provider-kit[server]'"
        ) from None
    library = Path(espeakng_loader.get_library_path())
    data = Path(espeakng_loader.get_data_path())
    if not library.is_file() or not (data / "phontab").is_file():
        raise EngineError("espeakng-loader's library or data is missing")
    return str(library), str(data.parent)
