"""The providers of a pool and how it treats them, and where that comes from in the environment.

One provider is what Voicebox configures today: ``TTS_REMOTE_URL`` and ``TTS_API_KEY``, read by
:class:`~voicebox_api._settings.Settings`. A pool extends that, without changing the meaning of
either variable (a comma in ``TTS_REMOTE_URL`` would not be a valid URL for ``Settings``):

``TTS_REMOTE_URLS``
    Comma-separated base URLs, in order of preference for ties. When set, it replaces
    ``TTS_REMOTE_URL`` as the list of providers.
``TTS_API_KEYS``
    Comma-separated keys, one per URL of ``TTS_REMOTE_URLS`` (an empty item: no key). When
    unset, every provider gets ``TTS_API_KEY``.
``TTS_POOL_FILE``
    A JSON file for what a list cannot say: per-provider languages, voices and engine, and the
    pool's limits. It wins over the two variables above::

        {"providers": [{"url": "http://gpu-a:8000", "api_key_env": "GPU_A_KEY",
                        "languages": ["en", "de"], "voices": ["narrator"]},
                       {"url": "http://gpu-b:8000", "name": "b", "engine": "qwen3-tts"}],
         "max_attempts": 3, "health_interval_s": 5}

Keys in the file are named by environment variable (``api_key_env``) so that the file holds no
secret; ``api_key`` is accepted for local experiments.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from voicebox_api._settings import Settings, SettingsError

__all__ = ["POOL_ENV_VARIABLES", "PoolConfig", "ProviderSpec"]

POOL_ENV_VARIABLES: Final = ("TTS_REMOTE_URLS", "TTS_API_KEYS", "TTS_POOL_FILE")


@dataclass(frozen=True)
class ProviderSpec:
    """One provider of a pool. ``languages``/``voices`` empty: whatever its /health declares
    (languages) or any voice. ``engine``: providers with the same engine accept each other's
    voice prompts; by default the ``model`` its /health reports."""

    url: str
    api_key: SecretStr | None = None
    name: str = ""
    languages: frozenset[str] = frozenset()
    voices: frozenset[str] = frozenset()
    engine: str | None = None

    def __post_init__(self) -> None:
        url = Settings(tts_remote_url=self.url).tts_remote_url  # the same URL rules as today
        object.__setattr__(self, "url", url)
        if isinstance(self.api_key, str):
            object.__setattr__(self, "api_key", SecretStr(self.api_key) if self.api_key else None)
        if not self.name:
            parsed = httpx.URL(self.url)
            object.__setattr__(self, "name", f"{parsed.host}:{parsed.port or parsed.scheme}")
        object.__setattr__(self, "languages", frozenset(self.languages))
        object.__setattr__(self, "voices", frozenset(self.voices))


@dataclass(frozen=True)
class PoolConfig:
    providers: tuple[ProviderSpec, ...]
    max_attempts: int = 3
    """Remote providers one request may be sent to; a local engine is tried after them."""
    health_interval_s: float | None = 5.0
    """Seconds between /health polls of a healthy provider; None: no background polling."""
    max_health_interval_s: float = 60.0
    """Polls of a failing provider back off, doubling up to this."""
    settings: Settings = field(default_factory=Settings)
    """Timeouts and the other endpoints' settings, shared by every provider."""

    def __post_init__(self) -> None:
        if not self.providers:
            raise SettingsError("TTS_REMOTE_URLS", "a pool needs at least one provider")
        if self.max_attempts < 1:
            raise SettingsError("max_attempts", f"must be at least 1, not {self.max_attempts}")
        names = [provider.name for provider in self.providers]
        if len(set(names)) != len(names):
            raise SettingsError("TTS_POOL_FILE", f"provider names must be unique: {names}")

    @classmethod
    def single(cls, settings: Settings) -> PoolConfig:
        """Exactly today's one provider: no background polling, as ProviderClient does none."""
        if settings.tts_remote_url is None:
            raise SettingsError("TTS_REMOTE_URL", "is not set; set it or TTS_REMOTE_URLS")
        spec = ProviderSpec(settings.tts_remote_url, settings.tts_api_key)
        return cls((spec,), max_attempts=1, health_interval_s=None, settings=settings)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, settings: Settings | None = None
    ) -> PoolConfig:
        """The pool the environment describes (see the module docstring)."""
        env = os.environ if environ is None else environ
        base = settings if settings is not None else Settings.from_env(env)
        pool_file = env.get("TTS_POOL_FILE", "").strip()
        if pool_file:
            return _from_file(Path(pool_file), env, base)
        urls = _split(env.get("TTS_REMOTE_URLS", ""))
        if not urls:
            return cls.single(base)
        keys = _keys_for(urls, env.get("TTS_API_KEYS"), base.tts_api_key)
        specs = tuple(ProviderSpec(url, key) for url, key in zip(urls, keys, strict=True))
        return cls(specs, max_attempts=min(3, len(specs)), settings=base)


def _split(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _keys_for(
    urls: Sequence[str], raw: str | None, default: SecretStr | None
) -> list[SecretStr | None]:
    if raw is None or not raw.strip():
        return [default] * len(urls)
    keys = [item.strip() for item in raw.split(",")]
    if len(keys) != len(urls):
        raise SettingsError(
            "TTS_API_KEYS", f"has {len(keys)} keys for {len(urls)} URLs in TTS_REMOTE_URLS"
        )
    return [SecretStr(key) if key else None for key in keys]


class _FileProvider(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    name: str = ""
    api_key_env: str | None = None
    api_key: str | None = None
    languages: list[str] = []
    voices: list[str] = []
    engine: str | None = None


class _PoolFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    providers: list[_FileProvider]
    max_attempts: int | None = None
    health_interval_s: float | None = 5.0
    max_health_interval_s: float = 60.0


def _from_file(path: Path, env: Mapping[str, str], settings: Settings) -> PoolConfig:
    try:
        document = _PoolFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise SettingsError("TTS_POOL_FILE", f"{path} is not a valid pool file ({exc})") from None
    specs = tuple(_spec(entry, env, settings) for entry in document.providers)
    attempts = document.max_attempts or min(3, max(1, len(specs)))
    return PoolConfig(
        specs,
        max_attempts=attempts,
        health_interval_s=document.health_interval_s,
        max_health_interval_s=document.max_health_interval_s,
        settings=settings,
    )


def _spec(entry: _FileProvider, env: Mapping[str, str], settings: Settings) -> ProviderSpec:
    key: SecretStr | None = settings.tts_api_key
    if entry.api_key_env is not None:
        value = env.get(entry.api_key_env, "").strip()
        if not value:
            raise SettingsError(entry.api_key_env, f"is not set (api_key_env of {entry.url})")
        key = SecretStr(value)
    elif entry.api_key is not None:
        key = SecretStr(entry.api_key) if entry.api_key else None
    return ProviderSpec(
        entry.url,
        key,
        name=entry.name,
        languages=frozenset(entry.languages),
        voices=frozenset(entry.voices),
        engine=entry.engine,
    )
