"""Settings from flags and VOICEBOX_REF_* variables; flags win; bad values are refused clearly."""

from __future__ import annotations

import pytest

from reference_server.config import ServerConfig, build_parser, load_config


def test_defaults() -> None:
    config = load_config([], {})
    assert config.host == "127.0.0.1"
    assert config.port == 8000
    assert config.backend == "espeak"
    assert config.api_key is None
    assert config.whisper == "auto"
    assert config.rate_limit is None
    assert config.max_upload_bytes >= 10 * 1024 * 1024
    assert config.upload_limit_is_conformant
    assert config.instance_id


def test_environment_variables_set_values() -> None:
    env = {
        "VOICEBOX_REF_PORT": "9001",
        "VOICEBOX_REF_BACKEND": "synthetic",
        "VOICEBOX_REF_BACKEND_OPTIONS": "latency_ms=20, max_batch_size=4",
        "VOICEBOX_REF_RATE_LIMIT": "2.5",
        "VOICEBOX_REF_MAX_BATCH_SIZE": "none",
        "VOICEBOX_REF_ACCESS_LOG": "false",
        "VOICEBOX_REF_INSTANCE_ID": "node-a",
    }
    config = load_config([], env)
    assert config.port == 9001
    assert config.backend == "synthetic"
    assert dict(config.backend_options) == {"latency_ms": "20", "max_batch_size": "4"}
    assert config.rate_limit == 2.5
    assert config.max_batch_size is None
    assert config.access_log is False
    assert config.instance_id == "node-a"


def test_flags_win_over_environment() -> None:
    config = load_config(["--port", "7000", "--api-key", "flag"], {"VOICEBOX_REF_PORT": "9001",
                         "VOICEBOX_REF_API_KEY": "env"})  # fmt: skip
    assert config.port == 7000
    assert config.api_key == "flag"


def test_tts_api_key_is_accepted_and_the_specific_variable_wins() -> None:
    assert load_config([], {"TTS_API_KEY": "seed"}).api_key == "seed"
    both = {"TTS_API_KEY": "seed", "VOICEBOX_REF_API_KEY": "ours"}
    assert load_config([], both).api_key == "ours"
    assert load_config([], {"TTS_API_KEY": ""}).api_key is None


def test_the_key_is_not_in_the_repr() -> None:
    assert "hunter2" not in repr(load_config(["--api-key", "hunter2"], {}))


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["--port", "http"], {}, "--port"),
        ([], {"VOICEBOX_REF_PORT": "http"}, "VOICEBOX_REF_PORT"),
        (["--queue-size", "0"], {}, "queue size"),
        (["--backend-options", "novalue"], {}, "key=value"),
        (["--log-level", "loud"], {}, "log level"),
        ([], {"VOICEBOX_REF_ACCESS_LOG": "maybe"}, "boolean"),
        (["--workers", "0"], {}, "workers"),
    ],
)
def test_bad_values_exit_with_a_clear_message(
    argv: list[str], env: dict[str, str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        load_config(argv, env)
    assert exited.value.code == 2
    assert needle in capsys.readouterr().err


def test_help_names_every_flag_and_its_variable() -> None:
    text = build_parser().format_help()
    for name in ServerConfig.model_fields:
        flag = "--" + name.replace("_", "-")
        assert flag in text, flag
        assert "VOICEBOX_REF_" + name.upper() in text.replace("\n", "").replace(" ", ""), name


def test_the_readme_documents_every_setting() -> None:
    from pathlib import Path

    from reference_server.config import options

    readme = (Path(__file__).resolve().parents[2] / "reference_server" / "README.md").read_text(
        encoding="utf-8"
    )
    for option in options():
        assert f"`{option.flag} " in readme, option.flag
        assert f"`{option.env}`" in readme, option.env
