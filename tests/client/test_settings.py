"""Settings: the seed's variables, explicit arguments winning, clear errors naming the variable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from voicebox_api import (
    DEFAULT_OPENAI_BASE_URL,
    ENV_VARIABLES,
    ProviderClient,
    Settings,
    SettingsError,
)

FULL_ENV = {
    "TTS_MODE": "remote",
    "TTS_REMOTE_URL": "http://gpu-box:8000/",
    "TTS_API_KEY": "tts-key",
    "WHISPER_MODE": "openai-api",
    "WHISPER_REMOTE_URL": "http://whisper-box:9000",
    "OPENAI_API_KEY": "sk-openai",
    "OPENAI_BASE_URL": "http://compatible:1234/v1",
}


def test_reads_every_seed_variable() -> None:
    s = Settings.from_env(FULL_ENV)
    assert s.tts_mode == "remote"
    assert s.tts_remote_url == "http://gpu-box:8000"  # trailing slash dropped
    assert s.tts_api_key is not None
    assert s.tts_api_key.get_secret_value() == "tts-key"
    assert s.whisper_mode == "openai-api"
    assert s.whisper_remote_url == "http://whisper-box:9000"
    assert s.openai_api_key is not None
    assert s.openai_api_key.get_secret_value() == "sk-openai"
    assert s.openai_base_url == "http://compatible:1234/v1"


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert (s.tts_mode, s.whisper_mode) == ("local", "local")
    assert s.tts_remote_url is None
    assert s.tts_api_key is None
    assert s.openai_api_key is None
    assert s.openai_base_url == DEFAULT_OPENAI_BASE_URL == "https://api.openai.com/v1"


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_REMOTE_URL", "http://from-env:8000")
    assert Settings.from_env().tts_remote_url == "http://from-env:8000"


def test_explicit_arguments_win_over_the_environment() -> None:
    s = Settings.from_env(
        FULL_ENV,
        tts_remote_url="http://explicit:1",
        tts_api_key=None,
        whisper_mode="remote",
        read_timeout=12.0,
    )
    assert s.tts_remote_url == "http://explicit:1"
    assert s.tts_api_key is None
    assert s.whisper_mode == "remote"
    assert s.read_timeout == 12.0
    assert s.openai_base_url == "http://compatible:1234/v1"  # not overridden: from the env


def test_client_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FULL_ENV.items():
        monkeypatch.setenv(name, value)
    with ProviderClient("http://explicit:2/p", api_key="explicit-key") as client:
        assert client.settings.tts_remote_url == "http://explicit:2/p"
        key = client.settings.tts_api_key
        assert key is not None
        assert key.get_secret_value() == "explicit-key"
        assert client.settings.openai_base_url == "http://compatible:1234/v1"
    with ProviderClient() as client:
        assert client.settings.tts_remote_url == "http://gpu-box:8000"


def test_empty_variables_count_as_unset() -> None:
    s = Settings.from_env({"TTS_API_KEY": "", "TTS_REMOTE_URL": "  ", "OPENAI_BASE_URL": ""})
    assert s.tts_api_key is None
    assert s.tts_remote_url is None
    assert s.openai_base_url == DEFAULT_OPENAI_BASE_URL


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"WHISPER_MODE": "foo"}, "WHISPER_MODE", "local, openai-api, remote"),
        ({"TTS_MODE": "cloud"}, "TTS_MODE", "local, remote"),
        ({"TTS_REMOTE_URL": "gpu-box:8000"}, "TTS_REMOTE_URL", "absolute http(s) URL"),
        ({"TTS_REMOTE_URL": "ftp://gpu-box"}, "TTS_REMOTE_URL", "absolute http(s) URL"),
        ({"WHISPER_REMOTE_URL": "localhost"}, "WHISPER_REMOTE_URL", "absolute"),
        ({"OPENAI_BASE_URL": "/v1"}, "OPENAI_BASE_URL", "absolute"),
        ({"TTS_REMOTE_URL": "http://h/?x=1"}, "TTS_REMOTE_URL", "no query"),
        ({"TTS_MODE": "remote"}, "TTS_REMOTE_URL", "must be set when TTS_MODE=remote"),
        ({"WHISPER_MODE": "remote"}, "WHISPER_REMOTE_URL", "WHISPER_MODE=remote"),
    ],
)
def test_invalid_values_name_their_variable(
    env: dict[str, str], variable: str, fragment: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert fragment in str(caught.value)


def test_credentials_in_a_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"TTS_REMOTE_URL": "http://user:hunter2@gpu-box:8000"})
    assert caught.value.variable == "TTS_REMOTE_URL"
    assert "hunter2" not in str(caught.value)


def test_whisper_remote_falls_back_to_the_tts_url() -> None:
    s = Settings.from_env({"WHISPER_MODE": "remote", "TTS_REMOTE_URL": "http://tts:1"})
    assert s.whisper_url == "http://tts:1"
    assert Settings.from_env({**FULL_ENV}).whisper_url == "http://whisper-box:9000"


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "5"])
def test_timeouts_must_be_positive_numbers(value: object) -> None:
    with pytest.raises(SettingsError, match="read_timeout"):
        Settings(read_timeout=value)  # type: ignore[arg-type]


def test_connect_and_read_timeouts_are_separate() -> None:
    s = Settings(connect_timeout=2.5, read_timeout=123.0, write_timeout=7.0, pool_timeout=9.0)
    assert s.timeout == httpx.Timeout(connect=2.5, read=123.0, write=7.0, pool=9.0)
    default = Settings().timeout
    assert (default.connect, default.read) == (5.0, 300.0)


def test_keys_never_show_in_repr() -> None:
    s = Settings.from_env(FULL_ENV)
    for text in (repr(s), str(s)):
        assert "tts-key" not in text
        assert "sk-openai" not in text
    assert isinstance(s.tts_api_key, SecretStr)


def test_plain_string_keys_become_secrets() -> None:
    s = Settings(tts_api_key="plain")  # type: ignore[arg-type]
    assert isinstance(s.tts_api_key, SecretStr)
    assert "plain" not in repr(s)


def test_replace_checks_again() -> None:
    with pytest.raises(SettingsError, match="TTS_REMOTE_URL"):
        Settings().replace(tts_remote_url="nope")


class CountingEnviron(Mapping[str, str]):
    """An environment that counts how often each variable is looked up, and any full scan."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.reads: Counter[str] = Counter()
        self.scans = 0

    def __getitem__(self, name: str) -> str:
        self.reads[name] += 1
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        self.scans += 1
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def test_each_variable_is_looked_up_once_and_nothing_else() -> None:
    environ = CountingEnviron({**FULL_ENV, "READ_TIMEOUT": "1", "UNRELATED": "x"})
    Settings.from_env(environ)
    assert environ.reads == Counter(dict.fromkeys(ENV_VARIABLES.values(), 1))
    assert environ.scans == 0


def test_only_the_seed_variables_come_from_the_environment() -> None:
    s = Settings.from_env({"READ_TIMEOUT": "1", "CONNECT_TIMEOUT": "1"})
    assert (s.read_timeout, s.connect_timeout) == (300.0, 5.0)


def test_direct_construction_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FULL_ENV.items():
        monkeypatch.setenv(name, value)
    assert Settings() == Settings.from_env({})
    assert Settings(tts_remote_url="http://a:1").tts_api_key is None
    assert Settings.from_env().tts_remote_url == "http://gpu-box:8000"


def test_replace_does_not_read_the_environment_again(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings.from_env({"TTS_API_KEY": "from-mapping"})
    monkeypatch.setenv("TTS_API_KEY", "from-os-environ")
    key = s.replace(read_timeout=1.0).tts_api_key
    assert key is not None
    assert key.get_secret_value() == "from-mapping"


def test_variables_are_stripped_and_urls_normalised_one_way() -> None:
    s = Settings.from_env(
        {"TTS_REMOTE_URL": "  HTTP://GPU-Box:8000/  ", "TTS_API_KEY": " key\n"},
    )
    assert s.tts_remote_url == Settings(tts_remote_url="http://gpu-box:8000").tts_remote_url
    assert s.tts_remote_url == "http://gpu-box:8000"
    assert s.tts_api_key is not None
    assert s.tts_api_key.get_secret_value() == "key"


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Settings().tts_mode = "remote"  # type: ignore[misc]


def test_unknown_fields_are_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="tts_url"):
        Settings(tts_url="http://a:1")  # type: ignore[call-arg]
