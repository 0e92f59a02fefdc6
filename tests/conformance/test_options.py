"""The suite's options: asked for explicitly, the environment read once through the kit's
Settings, and every value normalised by the same rules as the client's."""

from __future__ import annotations

from collections import Counter

import pytest

from conformance.engine.options import LevelSelection, SuiteOptions, requested
from tests.client.test_settings import FULL_ENV, CountingEnviron
from voicebox_api import ENV_VARIABLES, Settings

_VALUE_OPTIONS = (
    "provider_url",
    "provider_api_key",
    "whisper_url",
    "whisper_mode",
    "openai_api_key",
    "openai_base_url",
)


@pytest.fixture
def given(pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Set this run's options as if typed on the command line (``given.setattr(...)``)."""
    monkeypatch.setattr(pytestconfig.option, "conformance", False)
    for name in _VALUE_OPTIONS:
        monkeypatch.setattr(pytestconfig.option, name, None)
    return monkeypatch


def _set(config: pytest.Config, given: pytest.MonkeyPatch, **options: object) -> None:
    for name, value in options.items():
        given.setattr(config.option, name, value)


def test_the_environment_alone_does_not_ask_for_the_suite(
    pytestconfig: pytest.Config, given: pytest.MonkeyPatch
) -> None:
    environ = CountingEnviron(FULL_ENV)
    assert not requested(pytestconfig)
    assert SuiteOptions.from_config(pytestconfig, environ) is None
    assert environ.reads == Counter()
    assert environ.scans == 0


def test_each_variable_is_read_once_through_the_settings(
    pytestconfig: pytest.Config, given: pytest.MonkeyPatch
) -> None:
    _set(pytestconfig, given, conformance=True)
    environ = CountingEnviron(FULL_ENV)
    options = SuiteOptions.from_config(pytestconfig, environ)
    assert options is not None
    speech = ("SPEECH_BASE_URL", "SPEECH_API_KEY")  # the suite's own, beside the seed's
    assert environ.reads == Counter(dict.fromkeys([*ENV_VARIABLES.values(), *speech], 1))
    assert environ.scans == 0
    assert options.provider_url == "http://gpu-box:8000"
    assert (options.api_key, options.openai_api_key) == ("tts-key", "sk-openai")
    assert options.whisper_url == "http://whisper-box:9000"
    assert options.whisper_mode == "openai-api"
    assert options.openai_base_url == "http://compatible:1234/v1"


@pytest.mark.parametrize(
    "url",
    [
        "http://gpu-box:8000/",
        "  http://gpu-box:8000  ",
        "HTTP://GPU-BOX:8000",
        "http://gpu-box:8000",
    ],
)
def test_a_url_is_normalised_the_same_way_whoever_reads_it(
    url: str, pytestconfig: pytest.Config, given: pytest.MonkeyPatch
) -> None:
    client = Settings.from_env({"TTS_REMOTE_URL": url}).tts_remote_url
    _set(pytestconfig, given, conformance=True)
    from_env = SuiteOptions.from_config(pytestconfig, {"TTS_REMOTE_URL": url})
    _set(pytestconfig, given, provider_url=url, conformance=False)
    from_option = SuiteOptions.from_config(pytestconfig, {})
    assert from_env is not None
    assert from_option is not None
    assert client == from_env.provider_url == from_option.provider_url == "http://gpu-box:8000"
    assert from_option.client_settings().tts_remote_url == client


def test_options_win_over_their_variables(
    pytestconfig: pytest.Config, given: pytest.MonkeyPatch
) -> None:
    _set(pytestconfig, given, provider_url="http://explicit:1/", provider_api_key="explicit")
    options = SuiteOptions.from_config(pytestconfig, FULL_ENV)
    assert options is not None
    assert (options.provider_url, options.api_key) == ("http://explicit:1", "explicit")
    assert options.openai_api_key == "sk-openai"  # not given: from the environment


def test_without_variables_the_defaults_stand(
    pytestconfig: pytest.Config, given: pytest.MonkeyPatch
) -> None:
    _set(pytestconfig, given, provider_url="http://p:1")
    options = SuiteOptions.from_config(pytestconfig, {})
    assert options is not None
    assert (options.api_key, options.whisper_url, options.whisper_mode) == (None, None, None)
    assert options.openai_base_url is None
    assert options.level is LevelSelection.ALL


@pytest.mark.parametrize(
    ("options", "environ", "message"),
    [
        ({"conformance": True}, {}, "--conformance needs a provider"),
        ({"provider_url": "gpu-box:8000"}, {}, "--provider-url: 'gpu-box:8000' is not an absolute"),
        ({"conformance": True}, {"TTS_REMOTE_URL": "gpu-box"}, "TTS_REMOTE_URL: 'gpu-box' is not"),
        ({"provider_url": "http://p:1"}, {"WHISPER_MODE": "cloud"}, "WHISPER_MODE: 'cloud'"),
        ({"provider_url": "http://p:1", "whisper_url": "w"}, {}, "--whisper-url: 'w' is not"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_where_it_came_from(
    options: dict[str, object],
    environ: dict[str, str],
    message: str,
    pytestconfig: pytest.Config,
    given: pytest.MonkeyPatch,
) -> None:
    _set(pytestconfig, given, **options)
    with pytest.raises(pytest.UsageError, match=r"^voicebox-conformance: ") as caught:
        SuiteOptions.from_config(pytestconfig, environ)
    assert message in str(caught.value)


def test_the_level_selection_is_not_a_clause_level() -> None:
    options = SuiteOptions(provider_url="http://p:1", level=LevelSelection.SHOULD)
    assert options.selects("GEN-8", "SHOULD")
    assert not options.selects("SPK-2", "MAY")
    assert not SuiteOptions(provider_url="http://p:1", level=LevelSelection.MUST).selects(
        "GEN-8", "SHOULD"
    )
