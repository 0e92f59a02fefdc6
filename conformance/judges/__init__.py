"""Judges: models that listen to generated audio (SPEC.md §9), and the bundled Whisper tiny.en
that the judge and the reference server's Whisper backend both load. Optional: the models need the
``judges`` extra, and the conformance core never loads them unless asked.

Submodules: ``asr`` (Whisper judges, CER/WER), ``speaker`` (resemblyzer), ``analysis`` (signal
measurements without a model). The bundled Whisper model is public here for the server.
"""

from conformance.judges._unavailable import JudgeUnavailable
from conformance.judges.whisper_model import (
    BUNDLED_MODEL_NAME,
    BUNDLED_MODEL_REQUIREMENT,
    BUNDLED_MODEL_SHA256,
    WHISPER_SAMPLE_RATE,
    Device,
    LoadedWhisper,
    ModelIntegrityError,
    ModelLoadError,
    WhisperDependencyError,
    bundled_model_dir,
    iso_language,
    load_whisper,
    sha256_file,
    to_whisper_input,
    verify_model_files,
    whisper_language,
)

__all__ = [
    "BUNDLED_MODEL_NAME",
    "BUNDLED_MODEL_REQUIREMENT",
    "BUNDLED_MODEL_SHA256",
    "WHISPER_SAMPLE_RATE",
    "Device",
    "JudgeUnavailable",
    "LoadedWhisper",
    "ModelIntegrityError",
    "ModelLoadError",
    "WhisperDependencyError",
    "bundled_model_dir",
    "iso_language",
    "load_whisper",
    "sha256_file",
    "to_whisper_input",
    "verify_model_files",
    "whisper_language",
]
