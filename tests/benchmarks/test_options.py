"""The load generators' --api-key falls back to TTS_API_KEY through the kit's one Settings."""

from __future__ import annotations

import argparse
from collections import Counter

import pytest

from benchmarks.options import add_scenario_arguments, api_key
from tests.client.test_settings import CountingEnviron
from voicebox_api import ENV_VARIABLES, SettingsError


def _options(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_scenario_arguments(parser)
    return parser.parse_args(argv)


def test_the_key_comes_from_the_settings_read_once_and_stripped() -> None:
    environ = CountingEnviron({"TTS_API_KEY": " bench-key\n"})
    assert api_key(_options(), environ) == "bench-key"
    assert environ.reads == Counter(dict.fromkeys(ENV_VARIABLES.values(), 1))


def test_the_option_wins_and_the_environment_is_not_read() -> None:
    environ = CountingEnviron({"TTS_API_KEY": "from-env"})
    assert api_key(_options("--api-key", "given"), environ) == "given"
    assert environ.reads == Counter()


def test_no_key_anywhere_is_none() -> None:
    assert api_key(_options(), {}) is None


def test_parsing_the_options_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_API_KEY", "from-env")
    assert _options().api_key is None  # resolved later, by api_key()


def test_an_invalid_environment_names_its_variable() -> None:
    with pytest.raises(SettingsError, match=r"^WHISPER_MODE: "):
        api_key(_options(), {"WHISPER_MODE": "cloud"})
