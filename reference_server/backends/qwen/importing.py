"""Import ``qwen_tts`` once, behind the torchaudio guard, with its import-time chatter on stderr."""

from __future__ import annotations

import contextlib
import importlib
import sys
import types

from reference_server.backends.qwen.torchaudio_guard import install_torchaudio_stand_in

__all__ = ["import_qwen_tts"]


def import_qwen_tts() -> types.ModuleType:
    """Return the ``qwen_tts`` module, importing it on first use.

    ``qwen_tts`` prints a flash-attn banner to stdout when it is imported; it goes to stderr here
    so that programs that print machine-readable output (benchmarks) keep a clean stdout.
    """
    already = sys.modules.get("qwen_tts")
    if already is not None:
        return already  # no stdout swap: it is process-wide, and other threads may be printing
    install_torchaudio_stand_in()
    with contextlib.redirect_stdout(sys.stderr):
        return importlib.import_module("qwen_tts")
