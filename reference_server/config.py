"""Server settings: command-line flags, each with an environment variable; flags win.

Every option is declared once in ``_OPTIONS`` (flag, variable, type, default, help); the parser,
``--help`` and the README table are all derived from it, so they cannot drift apart.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from voicebox_api import MIN_UPLOAD_LIMIT_BYTES

__all__ = ["ENV_PREFIX", "ServerConfig", "build_parser", "default_instance_id", "load_config"]

ENV_PREFIX: Final = "VOICEBOX_REF_"
MiB: Final = 1024 * 1024


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs to know at start-up. Defaults are the documented ones."""

    host: str = "127.0.0.1"
    port: int = 8000
    backend: str = "espeak"
    backend_options: Mapping[str, str] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    device: str = "auto"
    max_text_length: int = 500
    max_upload_bytes: int = 25 * MiB
    max_json_bytes: int = 4 * MiB
    max_audio_seconds: float = 600.0
    max_concurrent_uploads: int = 16
    queue_size: int = 64
    batch_window_ms: float = 10.0
    max_batch_size: int | None = None
    request_timeout_s: float = 300.0
    workers: int = 1
    rate_limit: float | None = None
    rate_burst: int | None = None
    cache_bytes: int = 64 * MiB
    instance_id: str = field(default_factory=default_instance_id)
    whisper: str = "auto"
    whisper_device: str = "auto"
    shutdown_timeout_s: float = 30.0
    log_level: str = "info"
    access_log: bool = True

    def __post_init__(self) -> None:
        _require(1 <= self.port <= 65535 or self.port == 0, "port must be 0..65535")
        _require(self.max_text_length >= 1, "max text length must be at least 1")
        _require(self.max_upload_bytes >= 1, "max upload bytes must be at least 1")
        _require(self.max_json_bytes >= 1024, "max JSON bytes must be at least 1024")
        _require(self.max_audio_seconds > 0, "max audio seconds must be positive")
        _require(self.max_concurrent_uploads >= 1, "max concurrent uploads must be at least 1")
        _require(self.queue_size >= 1, "queue size must be at least 1")
        _require(self.batch_window_ms >= 0, "batch window must not be negative")
        _require(self.max_batch_size is None or self.max_batch_size >= 1, "max batch size >= 1")
        _require(self.request_timeout_s > 0, "request timeout must be positive")
        _require(self.workers >= 1, "workers must be at least 1")
        _require(self.rate_limit is None or self.rate_limit > 0, "rate limit must be positive")
        _require(self.rate_burst is None or self.rate_burst >= 1, "rate burst must be >= 1")
        _require(self.cache_bytes >= 0, "cache bytes must not be negative")
        _require(self.shutdown_timeout_s >= 0, "shutdown timeout must not be negative")
        _require(bool(self.instance_id.strip()), "instance id must not be empty")
        _require(self.api_key is None or bool(self.api_key), "an API key must not be empty")

    @property
    def upload_limit_is_conformant(self) -> bool:
        """SPEC.md VP-6: every provider accepts uploads of at least 10 MiB."""
        return self.max_upload_bytes >= MIN_UPLOAD_LIMIT_BYTES


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class _Option:
    name: str
    """ServerConfig field, flag ``--name-with-dashes`` and variable ``VOICEBOX_REF_NAME``."""
    parse: Callable[[str], Any]
    help: str
    metavar: str | None = None
    extra_env: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def placeholder(self) -> str:
        if self.metavar:
            return self.metavar
        for suffix, word in _UNITS:
            if self.name.endswith(suffix):
                return word
        if self.parse in (int, _optional_int):
            return "N"
        if self.parse in (float, _optional_float):
            return "X"
        return self.name.split("_")[-1].upper()


_UNITS: Final = (("_bytes", "BYTES"), ("_seconds", "SECONDS"), ("_s", "SECONDS"), ("_ms", "MS"))


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("", "none", "off") else int(text)


def _optional_float(text: str) -> float | None:
    return None if text.lower() in ("", "none", "off", "0") else float(text)


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _options(text: str) -> dict[str, str]:
    """``key=value`` pairs separated by commas: ``latency_ms=200,max_batch_size=4``."""
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"backend option {item!r} is not key=value")
        result[key.strip()] = value.strip()
    return result


def _log_level(text: str) -> str:
    level = text.strip().lower()
    if level not in ("critical", "error", "warning", "info", "debug", "trace"):
        raise ValueError(f"unknown log level {text!r}")
    return level


_OPTIONS: Final[tuple[_Option, ...]] = (
    _Option("host", str, "interface to listen on (default 127.0.0.1; 0.0.0.0 for all)"),
    _Option("port", int, "TCP port (default 8000; 0 picks a free one)"),
    _Option("backend", str, "TTS backend: espeak (default, no set-up), qwen or synthetic"),
    _Option(
        "backend_options",
        _options,
        "backend-specific key=value pairs, comma-separated, e.g. latency_ms=200,max_batch_size=4",
        metavar="K=V[,K=V]",
    ),
    _Option(
        "api_key",
        str,
        "require this key in X-API-Key or Authorization: Bearer on /v1/ (also TTS_API_KEY)",
        extra_env=("TTS_API_KEY",),
    ),
    _Option("model", str, "model path or hub id for the backend (backend default when unset)"),
    _Option("device", str, "inference device: auto, cpu, cuda, cuda:0, ... (default auto)"),
    _Option("max_text_length", int, "longest text in characters (default 500)"),
    _Option("max_upload_bytes", int, "largest audio upload in bytes (default 25 MiB)"),
    _Option("max_json_bytes", int, "largest JSON request body in bytes (default 4 MiB)"),
    _Option("max_audio_seconds", float, "longest decoded upload in seconds (default 600)"),
    _Option(
        "max_concurrent_uploads",
        int,
        "uploads read or decoded at once; more are refused with 503 (default 16)",
    ),
    _Option("queue_size", int, "requests waiting for a worker before 503 (default 64)"),
    _Option("batch_window_ms", float, "how long a batch waits for company (default 10 ms)"),
    _Option(
        "max_batch_size", _optional_int, "cap on the backend's batch size (default: backend's)"
    ),
    _Option("request_timeout_s", float, "queue + inference time before 503 (default 300 s)"),
    _Option("workers", int, "inference worker threads, one backend instance each (default 1)"),
    _Option("rate_limit", _optional_float, "requests per second per key or client (default off)"),
    _Option("rate_burst", _optional_int, "token-bucket burst (default: max(1, rate limit))"),
    _Option("cache_bytes", int, "LRU cache of seeded generations in bytes; 0 disables (64 MiB)"),
    _Option("instance_id", str, "X-Served-By value (default hostname-pid)"),
    _Option(
        "whisper",
        str,
        "transcription model: auto (bundled tiny.en when installed), none, or a path/model id",
        metavar="auto|none|MODEL",
    ),
    _Option("whisper_device", str, "device for transcription (default auto)"),
    _Option("shutdown_timeout_s", float, "grace period for in-flight requests on SIGTERM (30 s)"),
    _Option("log_level", _log_level, "critical, error, warning, info (default), debug or trace"),
    _Option("access_log", _bool, "log one line per request (default true)", metavar="BOOL"),
)


def _parser_type(option: _Option) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return option.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = option.name
    return convert


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reference_server",
        description="Reference server of the Voicebox External Provider API v0.3.",
        epilog="Every flag has an environment variable named in its help; flags win.",
    )
    for option in _OPTIONS:
        envs = ", ".join((option.env, *option.extra_env))
        parser.add_argument(
            option.flag,
            dest=option.name,
            type=_parser_type(option),
            default=argparse.SUPPRESS,
            metavar=option.placeholder,
            help=f"{option.help} [env: {envs}]",
        )
    return parser


def load_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """Settings from ``environ`` (default ``os.environ``), overridden by ``argv`` flags.

    Invalid values exit with argparse's usage message, naming the flag or variable.
    """
    parser = build_parser()
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for option in _OPTIONS:
        for variable in (option.env, *option.extra_env):
            text = env.get(variable)
            if text is None or (not text and option.name == "api_key"):
                continue
            try:
                values[option.name] = option.parse(text)
            except ValueError as exc:
                parser.error(f"{variable}: {exc}")
            break
    values.update(vars(parser.parse_args(argv)))
    try:
        return ServerConfig(**values)
    except ValueError as exc:
        parser.error(str(exc))
