"""Where the providers are and how to reach them: the seed's environment variables, typed.

``Settings.from_env()`` reads the variables that Voicebox itself reads (``TTS_MODE``,
``TTS_REMOTE_URL``, ``TTS_API_KEY``, ``WHISPER_MODE``, ``WHISPER_REMOTE_URL``,
``OPENAI_API_KEY``) plus ``OPENAI_BASE_URL`` for OpenAI-compatible servers. Explicit keyword
arguments win over the environment. An empty variable counts as unset. Every invalid value
raises :class:`SettingsError`, which names the variable.

API keys are held as :class:`pydantic.SecretStr`, so they never show in a ``repr``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypedDict, get_args

import httpx
from pydantic import SecretStr
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

ENV_VARIABLES: Final[Mapping[str, str]] = {
    "tts_mode": "TTS_MODE",
    "tts_remote_url": "TTS_REMOTE_URL",
    "tts_api_key": "TTS_API_KEY",
    "whisper_mode": "WHISPER_MODE",
    "whisper_remote_url": "WHISPER_REMOTE_URL",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
}
"""Each field that the environment can set, and its variable."""

_URL_FIELDS: Final = ("tts_remote_url", "whisper_remote_url", "openai_base_url")
_TIMEOUT_FIELDS: Final = ("connect_timeout", "read_timeout", "write_timeout", "pool_timeout")


class SettingsError(ValueError):
    """A setting is invalid. ``variable`` names the environment variable (or the field)."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


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


@dataclass(frozen=True)
class Settings:
    """How the client reaches the TTS provider, the Whisper server and the OpenAI endpoint.

    Timeouts are in seconds and separate: connecting should fail fast, while reading waits
    for a GPU generation that takes seconds (SPEC.md Appendix B).
    """

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

    def __post_init__(self) -> None:
        _check_choice("tts_mode", self.tts_mode, get_args(TTSMode))
        _check_choice("whisper_mode", self.whisper_mode, get_args(WhisperMode))
        for name in _URL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _normalise_url(name, value))
        for name in ("tts_api_key", "openai_api_key"):
            value = getattr(self, name)
            if isinstance(value, str):  # accept plain strings at run time, keep them secret
                object.__setattr__(self, name, SecretStr(value) if value else None)
        for name in _TIMEOUT_FIELDS:
            _check_timeout(name, getattr(self, name))
        self._check_modes_have_urls()

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Unpack[SettingsOverrides]
    ) -> Settings:
        """Read the environment (``os.environ`` by default); explicit overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field, variable in ENV_VARIABLES.items():
            raw = env.get(variable, "").strip()
            if raw:
                values[field] = raw
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]  # each value is checked in __post_init__

    def replace(self, **overrides: Unpack[SettingsOverrides]) -> Settings:
        """A copy with some fields changed (and checked again)."""
        return dataclasses.replace(self, **overrides)  # type: ignore[arg-type]

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

    def _check_modes_have_urls(self) -> None:
        if self.tts_mode == "remote" and self.tts_remote_url is None:
            raise SettingsError("TTS_REMOTE_URL", "must be set when TTS_MODE=remote")
        if self.whisper_mode == "remote" and self.whisper_url is None:
            raise SettingsError(
                "WHISPER_REMOTE_URL", "must be set (or TTS_REMOTE_URL) when WHISPER_MODE=remote"
            )


def _name(field: str) -> str:
    return ENV_VARIABLES.get(field, field)


def _check_choice(field: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SettingsError(_name(field), f"{value!r} is not one of {', '.join(allowed)}")


def _check_timeout(field: str, value: object) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise SettingsError(field, f"{value!r} is not a positive number of seconds")


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
