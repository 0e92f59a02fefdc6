"""Backends by name, imported lazily, failing clearly when a dependency is missing."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import pytest

from reference_server.backends import registry
from reference_server.backends.base import TTSBackend
from reference_server.backends.registry import (
    BackendSettings,
    BackendUnavailableError,
    create_transcription_backend,
    create_tts_backend,
    ensure_available,
    ensure_transcription_available,
)
from reference_server.backends.synthetic import SyntheticBackend


def test_synthetic_is_selectable_with_options() -> None:
    backend = create_tts_backend(
        "synthetic", BackendSettings(options={"latency_ms": "5", "max_batch_size": "3"})
    )
    assert isinstance(backend, SyntheticBackend)
    assert isinstance(backend, TTSBackend)
    assert backend.max_batch_size == 3
    assert backend.latency_s == pytest.approx(0.005)


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(BackendUnavailableError, match="espeak, openai-speech, qwen, synthetic"):
        ensure_available("festival")


def _missing(dependency: str, *, only: str) -> Any:
    real = importlib.import_module

    def fake(name: str, *args: Any) -> Any:
        if name == only:
            raise ModuleNotFoundError(f"No module named {dependency!r}", name=dependency)
        return real(name, *args)

    return fake


def test_a_missing_optional_dependency_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "reference_server.backends.registry.importlib.import_module",
        _missing("qwen_tts", only="reference_server.backends.qwen"),
    )
    with pytest.raises(BackendUnavailableError) as error:
        ensure_available("qwen")
    message = str(error.value)
    assert "qwen_tts is not installed" in message
    assert "voicebox-provider-kit[server,qwen]" in message
    ensure_available("synthetic")  # other backends are unaffected


def test_espeak_is_wired() -> None:
    """The default backend ships with the server extra: it is built by name, speaks as a
    ``TTSBackend``, and refuses settings it cannot honour."""
    ensure_available("espeak")
    backend = create_tts_backend("espeak", BackendSettings())
    try:
        assert isinstance(backend, TTSBackend)
        assert (backend.name, backend.device) == ("espeak", "cpu")
        assert backend.model.startswith("espeak-ng")
    finally:
        backend.close()
    with pytest.raises(ValueError, match="no model and no backend options"):
        create_tts_backend("espeak", BackendSettings(options={"latency_ms": "5"}))
    with pytest.raises(ValueError, match="runs on the CPU"):
        create_tts_backend("espeak", BackendSettings(device="cuda"))


def test_a_non_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = registry.TTS_BACKENDS["synthetic"]
    monkeypatch.setitem(
        registry.TTS_BACKENDS, "synthetic", registry._Entry(entry.module, "", lambda m, s: object())
    )
    with pytest.raises(TypeError, match="TTSBackend"):
        create_tts_backend("synthetic", BackendSettings())


def test_whisper_none_and_auto_without_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    assert create_transcription_backend("none") is None
    monkeypatch.setattr(registry, "bundled_whisper_available", lambda: False)
    assert create_transcription_backend("auto") is None
    ensure_transcription_available("auto")
    ensure_transcription_available("none")


def test_a_named_whisper_model_needs_faster_whisper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "reference_server.backends.registry.importlib.import_module",
        _missing("faster_whisper", only="reference_server.backends.whisper"),
    )
    with pytest.raises(BackendUnavailableError, match="faster_whisper is not installed"):
        ensure_transcription_available("/models/whisper-small")


def test_whisper_device_is_checked() -> None:
    pytest.importorskip("faster_whisper")
    with pytest.raises(ValueError, match="whisper device"):
        create_transcription_backend("auto", "cuda:1")


class _FakeQwenModule:
    class QwenBackend:
        calls: ClassVar[list[tuple[Any, dict[str, Any]]]] = []

        @classmethod
        def load(cls, name: Any, **kwargs: Any) -> str:
            cls.calls.append((name, kwargs))
            return "loaded"


def test_qwen_options_split_into_load_settings_and_sampling() -> None:
    settings = BackendSettings(
        model=None,
        device="cuda:1",
        options={"dtype": "float16", "max_batch_size": "6", "do_sample": "false", "top_k": "20"},
    )
    registry._build_qwen(_FakeQwenModule, settings)  # type: ignore[arg-type]
    name, kwargs = _FakeQwenModule.QwenBackend.calls[-1]
    assert name == registry.QWEN_DEFAULT_MODEL
    assert kwargs == {
        "device": "cuda:1",
        "max_batch_size": 6,
        "sampling": {"do_sample": False, "top_k": 20},
        "dtype": "float16",
    }


def test_espeak_refuses_options_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="no model"):
        registry._build_espeak(object(), BackendSettings(options={"x": "1"}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CPU"):
        registry._build_espeak(object(), BackendSettings(device="cuda"))  # type: ignore[arg-type]
