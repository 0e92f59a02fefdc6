"""The espeak-ng fork server: a small stdlib-only process that owns libespeak-ng.

Run as ``python -I -S _worker.py LIBRARY DATA_PARENT``; the parent talks to it over its
standard streams, one request at a time (see ``_engine``).

Why a separate process that forks for every utterance: libespeak-ng is not bit-reproducible
across calls within one process. Its wave generator keeps state between utterances that no API
resets (a function-static index into the pitch "flutter" table in ``wavegen.c``, the echo
buffer, resonator memories), so the second synthesis of a text differs from the first by a few
samples and in every sample value. A process that initialises espeak once and then forks a child
per utterance starts each utterance from the same pristine state, so equal requests give
bit-identical audio whatever was synthesised before. A fork costs about a millisecond; the child
exits after one utterance.

Why ctypes by hand: no maintained Python binding produces audio from the libespeak-ng that
``espeakng-loader`` bundles, and the part of ``speak_lib.h`` used here is seven functions.

Safety: espeak is initialised with the bundled data directory, checked to exist beforehand and
read back afterwards, so it never falls back to ``ESPEAK_DATA_PATH`` or ``$HOME``; text is
synthesised as plain UTF-8 (no SSML, so no ``<audio>`` URIs; no phoneme input), and espeak is
told not to call ``exit()`` on errors.

Protocol (all lines are UTF-8 JSON objects terminated by a newline):
  worker -> parent, once:  {"sample_rate": 22050, "version": "1.52.0"}
  parent -> worker:        {"text", "voice", "rate", "pitch", "range", "seed",
                            "read_punctuation", "timeout"}
  worker -> parent:        {"ok": true, "bytes": N} followed by N bytes of int16 samples
                           (native byte order), or {"ok": false, "error": "..."}
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import sys
import time
from typing import IO, Any

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000
POS_CHARACTER = 1
CHARS_UTF8 = 1
PARAM_RATE, PARAM_PITCH, PARAM_RANGE, PARAM_PUNCTUATION = 1, 3, 4, 5
PUNCTUATION_NONE, PUNCTUATION_ALL = 0, 1
EE_OK = 0

EXIT_VOICE_NOT_FOUND = 3
EXIT_SYNTH_FAILED = 4
EXIT_WRITE_FAILED = 5

_FIELDS: dict[str, type] = {
    "text": str,
    "voice": str,
    "rate": int,
    "pitch": int,
    "range": int,
    "seed": int,
    "read_punctuation": bool,
    "timeout": float,
}

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Espeak:
    """The few libespeak-ng calls this worker needs, with their C signatures."""

    def __init__(self, library: str) -> None:
        lib = ctypes.CDLL(library)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        self.lib = lib
        self.chunks: list[bytes] = []
        self._callback = _SynthCallback(self._collect)  # kept alive as long as espeak may call it

    def _collect(self, wav: Any, count: int, _events: Any) -> int:
        if wav and count > 0:
            self.chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def initialize(self, data_parent: str) -> tuple[int, str]:
        data = os.path.join(data_parent, "espeak-ng-data")
        if not os.path.isfile(os.path.join(data, "phontab")):
            raise RuntimeError("the espeak-ng data directory is missing")
        rate = self.lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(), INITIALIZE_DONT_EXIT
        )
        path = ctypes.c_char_p()
        version = self.lib.espeak_Info(ctypes.byref(path)).decode()
        used = (path.value or b"").decode()
        if rate <= 0 or os.path.realpath(used) != os.path.realpath(data):
            raise RuntimeError("espeak-ng did not initialise from its bundled data")
        self.lib.espeak_SetSynthCallback(self._callback)
        return rate, version

    def synthesize(self, request: dict[str, Any]) -> tuple[int, bytes]:
        """Synthesise one request; returns (exit status, int16 bytes)."""
        if self.lib.espeak_SetVoiceByName(request["voice"].encode()) != EE_OK:
            return EXIT_VOICE_NOT_FOUND, b""
        self.lib.espeak_SetParameter(PARAM_RATE, int(request["rate"]), 0)
        self.lib.espeak_SetParameter(PARAM_PITCH, int(request["pitch"]), 0)
        self.lib.espeak_SetParameter(PARAM_RANGE, int(request["range"]), 0)
        punctuation = PUNCTUATION_ALL if request["read_punctuation"] else PUNCTUATION_NONE
        self.lib.espeak_SetParameter(PARAM_PUNCTUATION, punctuation, 0)
        self.lib.espeak_ng_SetRandSeed(int(request["seed"]))
        text = request["text"].encode() + b"\0"
        status = self.lib.espeak_Synth(text, len(text), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        if status != EE_OK:
            return EXIT_SYNTH_FAILED, b""
        return 0, b"".join(self.chunks)


def _run_child(espeak: _Espeak, request: dict[str, Any], write_fd: int) -> None:
    """In the forked child: synthesise, write the samples to the pipe, exit. Never returns."""
    status = EXIT_WRITE_FAILED
    try:
        status, audio = espeak.synthesize(request)
        view = memoryview(audio)
        while view:
            written = os.write(write_fd, view)
            view = view[written:]
    except BaseException:
        status = status or EXIT_WRITE_FAILED
    finally:
        os._exit(status)


def _read_child(pid: int, read_fd: int, timeout: float) -> tuple[int, bytes]:
    """Collect a child's output; returns (exit status, bytes); kills it after ``timeout``."""
    deadline = time.monotonic() + timeout
    parts: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([read_fd], [], [], max(remaining, 0.0))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -1, b""
        part = os.read(read_fd, 1 << 16)
        if not part:
            break
        parts.append(part)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status), b"".join(parts)


def _check(request: Any) -> dict[str, Any]:
    if not isinstance(request, dict):
        raise TypeError("request is not an object")
    for key, kind in _FIELDS.items():
        value = request.get(key)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise TypeError(f"{key} is missing or not {kind.__name__}")
    if "\0" in request["text"]:
        raise ValueError("text holds a NUL character")
    return request


def _serve_one(espeak: _Espeak, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _run_child(espeak, request, write_fd)
    os.close(write_fd)
    try:
        status, audio = _read_child(pid, read_fd, request["timeout"])
    finally:
        os.close(read_fd)
    if status == 0:
        return {"ok": True, "bytes": len(audio)}, audio
    reasons = {
        EXIT_VOICE_NOT_FOUND: "voice not found",
        EXIT_SYNTH_FAILED: "synthesis failed",
        -1: "synthesis timed out",
    }
    return {"ok": False, "error": reasons.get(status, f"synthesis crashed ({status})")}, b""


def _reply(out: IO[bytes], header: dict[str, Any], payload: bytes = b"") -> None:
    out.write(json.dumps(header).encode() + b"\n")
    out.write(payload)
    out.flush()


def main(argv: list[str]) -> int:
    library, data_parent = argv[1], argv[2]
    espeak = _Espeak(library)
    sample_rate, version = espeak.initialize(data_parent)
    requests, out = sys.stdin.buffer, sys.stdout.buffer
    _reply(out, {"sample_rate": sample_rate, "version": version})
    for line in requests:
        try:
            header, payload = _serve_one(espeak, _check(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            header, payload = {"ok": False, "error": f"bad request ({type(exc).__name__})"}, b""
        _reply(out, header, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
