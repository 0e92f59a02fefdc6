"""The interface every inference backend implements.

The HTTP layer validates requests with the protocol models, asks the backend to parse the voice
prompt (cheap, on the event loop, so garbage is refused with 422 before it takes a queue slot),
then hands jobs to worker threads that call ``generate`` with a batch of one or more jobs.
Backends are synchronous and need not be thread-safe: the scheduler calls ``generate`` from one
worker at a time per backend instance.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from voicebox_api import HealthStatus

__all__ = [
    "BackendError",
    "GenerateJob",
    "ReportsHealth",
    "Segment",
    "StreamingTTSBackend",
    "Synthesis",
    "TTSBackend",
    "Transcription",
    "TranscriptionBackend",
    "UnsupportedLanguageError",
    "UpstreamUnavailableError",
    "VoicePromptError",
    "Word",
]

FloatAudio = npt.NDArray[np.float32]


class BackendError(Exception):
    """A client-caused failure a backend detected; the HTTP layer answers 422 with the message.

    Messages must be safe to show a client: no paths, no tracebacks, no internals.
    """


class VoicePromptError(BackendError):
    """The voice prompt was not produced by this backend, or is corrupt."""


class UpstreamUnavailableError(Exception):
    """A backend's upstream server is down, overloaded or failing: the HTTP layer answers 503
    with ``Retry-After``. The message must be safe to show a client (never the upstream's text).
    """

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnsupportedLanguageError(BackendError):
    """The ISO 639-1 code is not one this backend speaks or transcribes."""


@dataclass(frozen=True)
class GenerateJob:
    """One generation request, already validated. ``voice`` is what ``parse_voice_prompt``
    returned for the request's voice prompt."""

    text: str
    voice: Any
    language: str
    seed: int | None


@dataclass(frozen=True)
class Synthesis:
    """Mono float32 samples in [-1, 1] and their rate."""

    samples: FloatAudio
    sample_rate: int


@runtime_checkable
class TTSBackend(Protocol):
    name: str
    model: str
    device: str
    sample_rate: int
    languages: tuple[str, ...]
    deterministic: bool
    max_batch_size: int
    """1 for backends that cannot batch; the scheduler never passes more jobs than this."""

    def create_voice_prompt(
        self, audio: FloatAudio, sample_rate: int, reference_text: str
    ) -> dict[str, Any]:
        """Make a JSON-serialisable voice prompt from mono float32 reference audio."""
        ...

    def parse_voice_prompt(self, prompt: dict[str, Any]) -> Any:
        """Validate a voice prompt and return what ``GenerateJob.voice`` carries.

        Raises VoicePromptError for anything this backend did not produce."""
        ...

    def generate(self, jobs: Sequence[GenerateJob]) -> list[Synthesis]:
        """Synthesise each job; the result list matches ``jobs`` in order."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class StreamingTTSBackend(TTSBackend, Protocol):
    """A TTS backend that can hand out audio before the whole clip is made (SPEC.md §14)."""

    stream_granularity: str
    """``frame`` or ``sentence``: how soon ``stream`` yields (``capabilities``)."""

    def stream(self, job: GenerateJob) -> Iterator[Synthesis]:
        """Synthesise ``job`` piece by piece. The pieces concatenate to exactly what
        ``generate([job])`` returns for a seeded job; closing the iterator early stops the work."""
        ...


@runtime_checkable
class ReportsHealth(Protocol):
    """A backend whose state can change while it serves (the bridge's upstream, SPEC.md §4)."""

    def health_status(self) -> HealthStatus:
        """``healthy``, ``degraded``, ``loading`` or ``unhealthy``; cheap, never blocking."""
        ...


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    seek: int = 0
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str
    duration: float
    segments: tuple[Segment, ...] = field(default_factory=tuple)


@runtime_checkable
class TranscriptionBackend(Protocol):
    name: str
    model: str
    languages: tuple[str, ...]

    def transcribe(
        self,
        audio: FloatAudio,
        sample_rate: int,
        *,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
        word_timestamps: bool = False,
    ) -> Transcription:
        """Transcribe mono float32 audio. Raises UnsupportedLanguageError for a code it lacks."""
        ...

    def close(self) -> None: ...
