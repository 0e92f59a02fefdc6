"""Where the providers are and how to reach them: the seed's environment variables, typed.

``Settings.from_env()`` reads the variables that Voicebox itself reads (``TTS_MODE``,
``TTS_REMOTE_URL``, ``TTS_API_KEY``, ``WHISPER_MODE``, ``WHISPER_REMOTE_URL``,
``OPENAI_API_KEY``) plus ``OPENAI_BASE_URL`` for OpenAI-compatible servers, each once, through
one pydantic-settings source. Explicit keyword arguments win over the environment. An empty
variable counts as unset. Every invalid value raises :class:`SettingsError`, which names the
variable. ``Settings(...)`` itself takes only its arguments: the environment is read where a
program asks for it, by ``from_env``, and nowhere else.

This is the one configuration layer of every program of the kit: the pytest plugin, the load
generators and the demo take these variables through it, so a URL or a key is normalised the
same way whichever tool reads it.

API keys are held as :class:`pydantic.SecretStr`, so they never show in a ``repr``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Final, Literal, Self, TypedDict, get_args

import httpx
from pydantic import SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from typing_extensions import Unpack

__all__ = [
    "DEFAULT_OPENAI_BASE_URL",
    "ENV_VARIABLES",
    "Settings",
    "SettingsError",
    "SettingsOverrides",
    "TTSMode",
    "WhisperMode",
]

TTSMode = Literal["local", "remote"]
WhisperMode = Literal["local", "openai-api", "remote"]

DEFAULT_OPENAI_BASE_URL: Final = "https://api.openai.com/v1"

ENV_VARIABLES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "tts_mode": "TTS_MODE",
        "tts_remote_url": "TTS_REMOTE_URL",
        "tts_api_key": "TTS_API_KEY",
        "whisper_mode": "WHISPER_MODE",
        "whisper_remote_url": "WHISPER_REMOTE_URL",
        "openai_api_key": "OPENAI_API_KEY",
        "openai_base_url": "OPENAI_BASE_URL",
    }
)
"""Each field that the environment can set, and its variable."""

_URL_FIELDS: Final = ("tts_remote_url", "whisper_remote_url", "openai_base_url")
_KEY_FIELDS: Final = ("tts_api_key", "openai_api_key")
_TIMEOUT_FIELDS: Final = ("connect_timeout", "read_timeout", "write_timeout", "pool_timeout")

_NO_ENVIRONMENT: Final[Mapping[str, str]] = MappingProxyType({})
_environment: ContextVar[Mapping[str, str]] = ContextVar("environment", default=_NO_ENVIRONMENT)
"""The mapping that ``Settings.from_env`` reads while it builds; empty for ``Settings(...)``."""


class SettingsError(ValueError):
    """A setting is invalid. ``variable`` names the environment variable (or the field)."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class SettingsOverrides(TypedDict, total=False):
    """Explicit values for :meth:`Settings.from_env`; each wins over its variable."""

    tts_mode: TTSMode
    tts_remote_url: str | None
    tts_api_key: str | SecretStr | None
    whisper_mode: WhisperMode
    whisper_remote_url: str | None
    openai_api_key: str | SecretStr | None
    openai_base_url: str
    connect_timeout: float
    read_timeout: float
    write_timeout: float
    pool_timeout: float


class _SeedVariables(PydanticBaseSettingsSource):
    """The seed's variables from one mapping, each looked up once, stripped, empty = unset.

    Only the fields of :data:`ENV_VARIABLES` come from the environment; timeouts do not.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = ENV_VARIABLES.get(field_name)
        raw = self._environ.get(variable) if variable else None
        value = raw.strip() if isinstance(raw, str) else ""
        return value or None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = value
        return values


class Settings(BaseSettings):
    """How the client reaches the TTS provider, the Whisper server and the OpenAI endpoint.

    Timeouts are in seconds and separate: connecting should fail fast, while reading waits
    for a GPU generation that takes seconds (SPEC.md Appendix B).
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    tts_mode: TTSMode = "local"
    tts_remote_url: str | None = None
    tts_api_key: SecretStr | None = None
    whisper_mode: WhisperMode = "local"
    whisper_remote_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    write_timeout: float = 60.0
    pool_timeout: float = 60.0

    def __init__(self, **values: Unpack[SettingsOverrides]) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _first_problem(exc) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit arguments, then the seed's variables; no dotenv or secrets files."""
        return init_settings, _SeedVariables(settings_cls, _environment.get())

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Unpack[SettingsOverrides]
    ) -> Self:
        """Read the environment (``os.environ`` by default); explicit overrides win."""
        with _reading(os.environ if environ is None else environ):
            return cls(**overrides)

    def replace(self, **overrides: Unpack[SettingsOverrides]) -> Self:
        """A copy with some fields changed (and checked again); the environment is not read."""
        values: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(overrides)
        return type(self)(**values)

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.write_timeout,
            pool=self.pool_timeout,
        )

    @property
    def whisper_url(self) -> str | None:
        """``/v1/transcribe`` lives at ``WHISPER_REMOTE_URL``, or else at the TTS provider."""
        return self.whisper_remote_url or self.tts_remote_url

    # --- Validation: each rule raises SettingsError naming the variable ------------------------

    @field_validator("tts_mode", mode="before")
    @classmethod
    def _tts_mode(cls, value: object) -> object:
        return _choice("tts_mode", value, get_args(TTSMode))

    @field_validator("whisper_mode", mode="before")
    @classmethod
    def _whisper_mode(cls, value: object) -> object:
        return _choice("whisper_mode", value, get_args(WhisperMode))

    @field_validator(*_URL_FIELDS, mode="before")
    @classmethod
    def _url(cls, value: object, info: Any) -> object:
        return None if value is None else _normalise_url(info.field_name, value)

    @field_validator(*_KEY_FIELDS, mode="before")
    @classmethod
    def _key(cls, value: object) -> object:
        if isinstance(value, str):  # accept plain strings, keep them secret
            return SecretStr(value) if value else None
        return value

    @field_validator(*_TIMEOUT_FIELDS, mode="before")
    @classmethod
    def _timeout(cls, value: object, info: Any) -> object:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and math.isfinite(value) and value > 0:  # type: ignore[arg-type,operator]
            return value
        raise SettingsError(info.field_name, f"{value!r} is not a positive number of seconds")

    @model_validator(mode="after")
    def _modes_have_urls(self) -> Self:
        if self.tts_mode == "remote" and self.tts_remote_url is None:
            raise SettingsError("TTS_REMOTE_URL", "must be set when TTS_MODE=remote")
        if self.whisper_mode == "remote" and self.whisper_url is None:
            raise SettingsError(
                "WHISPER_REMOTE_URL", "must be set (or TTS_REMOTE_URL) when WHISPER_MODE=remote"
            )
        return self


@contextmanager
def _reading(environ: Mapping[str, str]) -> Iterator[None]:
    token = _environment.set(environ)
    try:
        yield
    finally:
        _environment.reset(token)


def _first_problem(exc: ValidationError) -> SettingsError:
    """The first error, as the SettingsError that a validator raised or one naming the field."""
    error = exc.errors()[0]
    raised = error.get("ctx", {}).get("error")
    if isinstance(raised, SettingsError):
        return raised
    field = str(error["loc"][0]) if error["loc"] else "settings"
    return SettingsError(_name(field), error["msg"])


def _name(field: str) -> str:
    return ENV_VARIABLES.get(field, field)


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> object:
    if value not in allowed:
        raise SettingsError(_name(field), f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _normalise_url(field: str, value: object) -> str:
    """Check that a base URL is absolute http(s) without credentials, query or fragment."""
    if not isinstance(value, str):
        raise SettingsError(_name(field), f"{value!r} is not a URL string")
    try:
        url = httpx.URL(value.strip())
    except httpx.InvalidURL as exc:
        raise SettingsError(_name(field), f"{value!r} is not a valid URL ({exc})") from None
    if url.userinfo:
        # Keys travel in headers only, so that they never appear in a URL, a log or a report.
        raise SettingsError(_name(field), "credentials in the URL are not supported; use a key")
    if url.scheme not in ("http", "https") or not url.host:
        raise SettingsError(
            _name(field),
            f"{value!r} is not an absolute http(s) URL; write it like http://gpu-box:8000",
        )
    if url.query or url.fragment:
        raise SettingsError(_name(field), "a base URL takes no query string or fragment")
    return str(url).rstrip("/")
