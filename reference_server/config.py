"""Server settings: command-line flags, each with an environment variable; flags win.

``ServerConfig`` is a pydantic-settings class: every option is one field (type, default, help
in its description), and its ``VOICEBOX_REF_*`` variable is read once, by pydantic-settings'
environment source. The argparse parser, ``--help`` and the README table are derived from the
fields, so they cannot drift apart. Building ``ServerConfig(...)`` directly reads no
environment: only ``load_config`` does, so tests and embedders get exactly what they pass.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from voicebox_api import MIN_UPLOAD_LIMIT_BYTES

__all__ = [
    "ENV_PREFIX",
    "Option",
    "ServerConfig",
    "build_parser",
    "default_instance_id",
    "load_config",
    "options",
]

ENV_PREFIX: Final = "VOICEBOX_REF_"
MiB: Final = 1024 * 1024
_OFF: Final = ("", "none", "off")


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _help(text: str, *, metavar: str | None = None, extra_env: str | None = None) -> Any:
    extra: dict[str, str] = {}
    if metavar:
        extra["metavar"] = metavar
    if extra_env:
        extra["extra_env"] = extra_env
    return {"description": text, "json_schema_extra": extra or None}


class ServerConfig(BaseSettings):
    """Everything the server needs to know at start-up. Defaults are the documented ones."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid"
    )

    host: str = Field(
        "127.0.0.1", **_help("interface to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    )
    port: int = Field(8000, **_help("TCP port (default 8000; 0 picks a free one)"))
    backend: str = Field(
        "espeak", **_help("TTS backend: espeak (default, no set-up), qwen or synthetic")
    )
    backend_options: Mapping[str, str] = Field(
        default_factory=dict,
        **_help(
            "backend-specific key=value pairs, comma-separated, "
            "e.g. latency_ms=200,max_batch_size=4",
            metavar="K=V[,K=V]",
        ),
    )
    api_key: str | None = Field(
        None,
        repr=False,
        **_help(
            "require this key in X-API-Key or Authorization: Bearer on /v1/ (also TTS_API_KEY)",
            extra_env="TTS_API_KEY",
        ),
    )
    model: str | None = Field(
        None, **_help("model path or hub id for the backend (backend default when unset)")
    )
    device: str = Field(
        "auto", **_help("inference device: auto, cpu, cuda, cuda:0, ... (default auto)")
    )
    max_text_length: int = Field(500, **_help("longest text in characters (default 500)"))
    max_upload_bytes: int = Field(
        25 * MiB, **_help("largest audio upload in bytes (default 25 MiB)")
    )
    max_json_bytes: int = Field(
        4 * MiB, **_help("largest JSON request body in bytes (default 4 MiB)")
    )
    max_audio_seconds: float = Field(
        600.0, **_help("longest decoded upload in seconds (default 600)")
    )
    max_decoded_bytes: int = Field(
        128 * MiB,
        **_help(
            "largest upload once decoded (frames x channels x 4 bytes), checked from the "
            "header before decoding (default 128 MiB)"
        ),
    )
    max_concurrent_uploads: int = Field(
        16, **_help("uploads read or decoded at once; more are refused with 503 (default 16)")
    )
    body_timeout_s: float = Field(
        60.0, **_help("longest a request body may take to arrive before 408 (default 60 s)")
    )
    min_body_rate_bytes: int = Field(
        16 * 1024,
        **_help(
            "slowest a body may arrive, in bytes per second after its first 2 s, "
            "before 408; 0 disables (default 16 KiB/s)"
        ),
    )
    queue_size: int = Field(64, **_help("requests waiting for a worker before 503 (default 64)"))
    admission_slack: int = Field(
        4,
        **_help(
            "requests per queue admitted beyond queue and workers while their bodies are "
            "read; more get 503 before their body is read (default 4)"
        ),
    )
    batch_window_ms: float = Field(
        10.0, **_help("how long a batch waits for company (default 10 ms)")
    )
    max_batch_size: int | None = Field(
        None, **_help("cap on the backend's batch size (default: backend's)")
    )
    request_timeout_s: float = Field(
        300.0, **_help("queue + inference time before 503 (default 300 s)")
    )
    workers: int = Field(
        1, **_help("inference worker threads, one backend instance each (default 1)")
    )
    rate_limit: float | None = Field(
        None, **_help("requests per second per key or client (default off)")
    )
    rate_burst: int | None = Field(
        None, **_help("token-bucket burst (default: max(1, rate limit))")
    )
    cache_bytes: int = Field(
        64 * MiB,
        **_help("LRU cache of seeded generations in bytes; 0 disables (64 MiB)"),
    )
    instance_id: str = Field(
        default_factory=default_instance_id, **_help("X-Served-By value (default hostname-pid)")
    )
    whisper: str = Field(
        "auto",
        **_help(
            "transcription model: auto (bundled tiny.en when installed), none, or a path/model id",
            metavar="auto|none|MODEL",
        ),
    )
    whisper_device: str = Field("auto", **_help("device for transcription (default auto)"))
    shutdown_timeout_s: float = Field(
        30.0, **_help("grace period for in-flight requests on SIGTERM (30 s)")
    )
    log_level: str = Field(
        "info", **_help("critical, error, warning, info (default), debug or trace")
    )
    access_log: bool = Field(
        True, **_help("log one line per request (default true)", metavar="BOOL")
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment is read by load_config only

    @field_validator("backend_options", mode="before")
    @classmethod
    def _options(cls, value: Any) -> Any:
        """``key=value`` pairs separated by commas: ``latency_ms=200,max_batch_size=4``."""
        if not isinstance(value, str):
            return value
        result: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"backend option {item!r} is not key=value")
            result[key.strip()] = text.strip()
        return result

    @field_validator("max_batch_size", "rate_burst", mode="before")
    @classmethod
    def _optional_int(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in _OFF else value

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _optional_rate(cls, value: Any) -> Any:
        off = (*_OFF, "0")
        return None if isinstance(value, str) and value.strip().lower() in off else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        level = str(value).strip().lower()
        if level not in ("critical", "error", "warning", "info", "debug", "trace"):
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("access_log", mode="before")
    @classmethod
    def _bool(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"not a boolean: {value!r}")

    @model_validator(mode="after")
    def _check(self) -> ServerConfig:
        _require(1 <= self.port <= 65535 or self.port == 0, "port must be 0..65535")
        _require(self.max_text_length >= 1, "max text length must be at least 1")
        _require(self.max_upload_bytes >= 1, "max upload bytes must be at least 1")
        _require(self.max_json_bytes >= 1024, "max JSON bytes must be at least 1024")
        _require(self.max_audio_seconds > 0, "max audio seconds must be positive")
        _require(self.max_decoded_bytes >= 1024, "max decoded bytes must be at least 1024")
        _require(self.max_concurrent_uploads >= 1, "max concurrent uploads must be at least 1")
        _require(self.body_timeout_s > 0, "body timeout must be positive")
        _require(self.min_body_rate_bytes >= 0, "min body rate must not be negative")
        _require(self.queue_size >= 1, "queue size must be at least 1")
        _require(self.admission_slack >= 0, "admission slack must not be negative")
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
        return self

    @property
    def upload_limit_is_conformant(self) -> bool:
        """SPEC.md VP-6: every provider accepts uploads of at least 10 MiB."""
        return self.max_upload_bytes >= MIN_UPLOAD_LIMIT_BYTES

    def replace(self, **changes: Any) -> ServerConfig:
        """A copy with ``changes``, validated like the original."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**values, **changes})


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# --- flags and variables, derived from the fields ------------------------------------------


@dataclass(frozen=True)
class Option:
    """One setting as an operator sees it: its flag, its variables and its help."""

    name: str
    help: str
    placeholder: str
    extra_env: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def envs(self) -> tuple[str, ...]:
        return (self.env, *self.extra_env)


_UNITS: Final = (("_bytes", "BYTES"), ("_seconds", "SECONDS"), ("_s", "SECONDS"), ("_ms", "MS"))


def options() -> tuple[Option, ...]:
    return tuple(_option(name, info) for name, info in ServerConfig.model_fields.items())


def _option(name: str, info: FieldInfo) -> Option:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    extra_env = str(extra["extra_env"]) if "extra_env" in extra else None
    return Option(
        name=name,
        help=info.description or "",
        placeholder=str(extra.get("metavar") or _placeholder(name, info.annotation)),
        extra_env=(extra_env,) if extra_env else (),
    )


def _placeholder(name: str, annotation: Any) -> str:
    for suffix, word in _UNITS:
        if name.endswith(suffix):
            return word
    if annotation in (int, int | None):
        return "N"
    if annotation in (float, float | None):
        return "X"
    return name.rsplit("_", maxsplit=1)[-1].upper()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reference_server",
        description="Reference server of the Voicebox External Provider API v0.3.",
        epilog="Every flag has an environment variable named in its help; flags win.",
    )
    for option in options():
        parser.add_argument(
            option.flag,
            dest=option.name,
            default=argparse.SUPPRESS,
            metavar=option.placeholder,
            help=f"{option.help} [env: {', '.join(option.envs)}]",
        )
    return parser


def load_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """Settings from ``environ`` (default ``os.environ``), overridden by ``argv`` flags.

    Invalid values exit with argparse's usage message, naming the flag or variable.
    """
    parser = build_parser()
    flags: dict[str, Any] = vars(parser.parse_args(argv))
    source = _MappingEnvSource(os.environ if environ is None else environ)
    variables = source()
    origin = {name: source.variable_of(name) for name in variables}
    origin.update({option.name: option.flag for option in options() if option.name in flags})
    try:
        return ServerConfig(**{**variables, **flags})
    except ValidationError as exc:
        parser.error(_first_error(exc, origin))


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping, values left as text.

    Left as text so that the field validators parse ``k=v,k=v`` and ``none`` the same way for
    a flag and for a variable.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)
        super().__init__(ServerConfig)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        present = {key: value for key, value in self._environ.items() if value}
        if "TTS_API_KEY" in present:  # the variable Voicebox itself uses; ours wins
            present.setdefault(ENV_PREFIX + "API_KEY", present["TTS_API_KEY"])
        return {key.lower(): value for key, value in present.items()}

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        return value

    def variable_of(self, name: str) -> str:
        option = next(option for option in options() if option.name == name)
        return next((env for env in option.envs if self._environ.get(env)), option.env)


def _first_error(exc: ValidationError, origin: Mapping[str, str]) -> str:
    error = exc.errors(include_url=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    field = str(error["loc"][0]) if error["loc"] else ""
    if field in origin:
        return f"{origin[field]}: {message}"
    return message
