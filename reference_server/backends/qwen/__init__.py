"""The ``qwen`` backend: real Qwen3-TTS 12 Hz Base models through ``qwen_tts``.

Importing this package imports torch but not ``qwen_tts``; that happens when a model is loaded
(behind the torchaudio guard, see ``torchaudio_guard``).
"""

from reference_server.backends.qwen.backend import (
    MAX_REFERENCE_SECONDS,
    MIN_REFERENCE_SECONDS,
    QwenBackend,
    UnsupportedModelError,
    batch_key,
    max_new_tokens_for,
    plan_batches,
)
from reference_server.backends.qwen.devices import DeviceError
from reference_server.backends.qwen.prompt import ParsedVoice

__all__ = [
    "MAX_REFERENCE_SECONDS",
    "MIN_REFERENCE_SECONDS",
    "DeviceError",
    "ParsedVoice",
    "QwenBackend",
    "UnsupportedModelError",
    "batch_key",
    "max_new_tokens_for",
    "plan_batches",
]
