"""The torchaudio stand-in is registered only when the real import fails, and fails loudly."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestration.processes import python_env
from reference_server.backends.qwen.torchaudio_guard import (
    KALDI_MODULE,
    TorchaudioUnavailableError,
    install_torchaudio_stand_in,
    is_stand_in,
)
from tests.qwen.helpers import require_qwen_tts

_NAMES = ("torchaudio", "torchaudio.compliance", KALDI_MODULE)


@pytest.fixture
def clean_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide whatever torchaudio modules this process holds; monkeypatch restores them."""
    for name in _NAMES:
        monkeypatch.delitem(sys.modules, name, raising=False)


def _failing_import(error: BaseException) -> Callable[[str], types.ModuleType]:
    def import_module(name: str) -> types.ModuleType:
        assert name == KALDI_MODULE
        raise error

    return import_module


@pytest.mark.usefixtures("clean_modules")
def test_does_nothing_when_the_real_import_works() -> None:
    imported: list[str] = []

    def working_import(name: str) -> types.ModuleType:
        imported.append(name)
        return types.ModuleType(name)

    assert install_torchaudio_stand_in(working_import) is False
    assert imported == [KALDI_MODULE]
    assert not any(name in sys.modules for name in _NAMES)


@pytest.mark.usefixtures("clean_modules")
@pytest.mark.parametrize(
    "error", [OSError("libtorchaudio.so: undefined symbol"), ImportError("no torchaudio")]
)
def test_registers_importable_stand_ins_when_the_import_fails(error: BaseException) -> None:
    assert install_torchaudio_stand_in(_failing_import(error)) is True

    for name in _NAMES:
        module = sys.modules[name]
        assert is_stand_in(module)
        assert module.__spec__ is not None
        assert module.__spec__.name == name
    # The statement qwen_tts runs now succeeds, and binds the stand-in.
    kaldi = importlib.import_module(KALDI_MODULE)
    namespace: dict[str, object] = {}
    exec(f"import {KALDI_MODULE} as kaldi", namespace)  # noqa: S102 (the exact statement)
    assert namespace["kaldi"] is kaldi


@pytest.mark.usefixtures("clean_modules")
def test_using_the_stand_in_raises_a_clear_error() -> None:
    install_torchaudio_stand_in(_failing_import(OSError("undefined symbol: foo")))
    kaldi = sys.modules[KALDI_MODULE]

    with pytest.raises(TorchaudioUnavailableError, match=r"undefined symbol: foo.*25 Hz tokenizer"):
        kaldi.fbank([0.0], num_mel_bins=80)
    with pytest.raises(AttributeError, match="torchaudio failed to import"):
        _ = sys.modules["torchaudio"].load
    assert not hasattr(sys.modules["torchaudio"], "functional")


@pytest.mark.usefixtures("clean_modules")
def test_other_errors_are_not_masked() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        install_torchaudio_stand_in(_failing_import(RuntimeError("boom")))
    assert not any(name in sys.modules for name in _NAMES)


@pytest.mark.usefixtures("clean_modules")
def test_a_real_module_already_imported_is_left_alone() -> None:
    real = types.ModuleType(KALDI_MODULE)
    sys.modules[KALDI_MODULE] = real

    assert install_torchaudio_stand_in(_failing_import(OSError("never called"))) is False
    assert sys.modules[KALDI_MODULE] is real


@pytest.mark.usefixtures("clean_modules")
def test_a_real_parent_package_is_kept_when_only_the_submodule_fails() -> None:
    real_parent = types.ModuleType("torchaudio")
    sys.modules["torchaudio"] = real_parent

    install_torchaudio_stand_in(_failing_import(ImportError("no kaldi")))

    assert sys.modules["torchaudio"] is real_parent
    assert is_stand_in(sys.modules[KALDI_MODULE])


@pytest.mark.qwen
@pytest.mark.slow
def test_qwen_tts_imports_in_a_fresh_process_with_a_clean_stdout() -> None:
    require_qwen_tts()
    root = Path(__file__).resolve().parents[2]
    script = (
        "import sys\n"
        "from reference_server.backends.qwen.importing import import_qwen_tts\n"
        "qwen_tts = import_qwen_tts()\n"
        "assert hasattr(qwen_tts, 'Qwen3TTSModel')\n"
        "kaldi = sys.modules['torchaudio.compliance.kaldi']\n"
        "print('stand-in' if getattr(kaldi, '__voicebox_stand_in__', False) else 'real')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() in {"stand-in", "real"}, done.stdout
