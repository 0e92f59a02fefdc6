"""Make ``import qwen_tts`` work where torchaudio cannot be imported.

Why this exists: ``qwen_tts`` imports ``torchaudio.compliance.kaldi`` at module level, but only its
25 Hz speech tokenizer ever calls it (``kaldi.fbank``); the 12 Hz models this backend serves
never do. On a CPU-only install, PyPI's torchaudio wheel is a CUDA build whose native library
fails to load beside CPU torch, so ``import torchaudio`` raises ``OSError``, and so does
``import qwen_tts``.

The guard is narrow on purpose:

- it tries the real import first and does nothing when that works;
- it catches only the failure of *that* import (``ImportError``/``OSError``), never an error raised
  by ``qwen_tts`` itself or by its other dependencies;
- it registers stand-ins only for the three module names the failing import statement needs
  (``torchaudio``, ``torchaudio.compliance``, ``torchaudio.compliance.kaldi``), each with a proper
  ``__spec__`` so ``importlib`` machinery treats them as modules;
- any actual use of the stand-in fails loudly and names the original failure: calling
  ``kaldi.fbank`` raises :class:`TorchaudioUnavailableError`, and reading any other attribute
  raises ``AttributeError`` (so ``hasattr`` probes still answer False). The backend also
  refuses 25 Hz checkpoints at load time, before anything could call it.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = [
    "KALDI_MODULE",
    "TorchaudioUnavailableError",
    "install_torchaudio_stand_in",
    "is_stand_in",
]

KALDI_MODULE = "torchaudio.compliance.kaldi"
_STAND_IN_MARK = "__voicebox_stand_in__"
_PACKAGES = ("torchaudio", "torchaudio.compliance")


class TorchaudioUnavailableError(ImportError):
    """torchaudio could not be imported, and code tried to use it (the 25 Hz tokenizer)."""


def install_torchaudio_stand_in(
    import_module: Callable[[str], types.ModuleType] = importlib.import_module,
) -> bool:
    """Import ``torchaudio.compliance.kaldi``; if that fails, register the stand-ins.

    Returns True when stand-ins were registered (now or by an earlier call), False when the real
    module is importable. ``import_module`` is injectable so tests can simulate both outcomes.
    """
    existing = sys.modules.get(KALDI_MODULE)
    if existing is not None:
        return is_stand_in(existing)
    try:
        import_module(KALDI_MODULE)
    except (ImportError, OSError) as exc:
        _register_stand_ins(f"{type(exc).__name__}: {exc}")
        return True
    return False


def is_stand_in(module: types.ModuleType) -> bool:
    return bool(getattr(module, _STAND_IN_MARK, False))


def _register_stand_ins(reason: str) -> None:
    for name in _PACKAGES:
        if not _is_real(sys.modules.get(name)):
            sys.modules[name] = _make_module(name, reason, is_package=True)
    kaldi = _make_module(KALDI_MODULE, reason, is_package=False)

    def fbank(*_args: Any, **_kwargs: Any) -> NoReturn:
        _raise_unavailable("torchaudio.compliance.kaldi.fbank", reason)

    kaldi.fbank = fbank  # type: ignore[attr-defined]
    sys.modules[KALDI_MODULE] = kaldi
    # `import a.b.c as x` resolves the chain by attribute, so link each child to its parent.
    sys.modules["torchaudio"].compliance = sys.modules["torchaudio.compliance"]  # type: ignore[attr-defined]
    sys.modules["torchaudio.compliance"].kaldi = kaldi  # type: ignore[attr-defined]


def _is_real(module: types.ModuleType | None) -> bool:
    return module is not None and not is_stand_in(module)


def _make_module(name: str, reason: str, *, is_package: bool) -> types.ModuleType:
    module = types.ModuleType(name, f"Stand-in for {name}: the real module failed to import.")
    module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None, is_package=is_package)
    if is_package:
        module.__path__ = []
    setattr(module, _STAND_IN_MARK, True)

    def __getattr__(attribute: str) -> NoReturn:
        # AttributeError (not ImportError) keeps hasattr() and introspection working.
        raise AttributeError(_unavailable_message(f"{name}.{attribute}", reason))

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def _raise_unavailable(what: str, reason: str) -> NoReturn:
    raise TorchaudioUnavailableError(_unavailable_message(what, reason))


def _unavailable_message(what: str, reason: str) -> str:
    return (
        f"{what} is unavailable: torchaudio failed to import ({reason}). Only Qwen3-TTS's 25 Hz "
        "tokenizer needs it; use a 12 Hz model or install a torchaudio build that matches torch."
    )
