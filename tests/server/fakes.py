"""Backends for tests: the synthetic backend with probes, and a scripted transcriber."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from reference_server.backends.base import (
    GenerateJob,
    Segment,
    Synthesis,
    Transcription,
    UnsupportedLanguageError,
    Word,
)
from reference_server.backends.synthetic import SyntheticBackend
from voicebox_api import write_audio


def tone_wav(
    frequency: float = 180.0, seconds: float = 1.0, rate: int = 24_000, fmt: str = "wav"
) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return write_audio(0.3 * np.sin(2 * np.pi * frequency * t), rate, fmt)  # type: ignore[arg-type]


class ProbeBackend(SyntheticBackend):
    """Synthetic, plus: records batch sizes, detects concurrent calls, can block or crash."""

    def __init__(self, *, max_batch_size: int = 1, latency_s: float = 0.0) -> None:
        super().__init__(max_batch_size=max_batch_size, latency_s=latency_s)
        self.batches: list[list[str]] = []
        self.prompt_threads: list[str] = []
        self.reference_texts: list[str] = []
        self.concurrent_calls = 0
        self.release = threading.Event()
        self.release.set()
        self.prompt_release = threading.Event()
        self.prompt_release.set()
        self.prompt_started = threading.Semaphore(0)
        self.started = threading.Semaphore(0)
        self.crash_with: BaseException | None = None
        self._busy = threading.Lock()

    def batch_key(self, job: GenerateJob) -> Hashable:
        return job.language

    def generate(self, jobs: Sequence[GenerateJob]) -> list[Synthesis]:
        if not self._busy.acquire(blocking=False):
            self.concurrent_calls += 1
            self._busy.acquire()
        try:
            self.batches.append([job.text for job in jobs])
            self.started.release()
            self.release.wait(timeout=30)
            if self.crash_with is not None:
                raise self.crash_with
            return super().generate(jobs)
        finally:
            self._busy.release()

    def create_voice_prompt(
        self, audio: npt.NDArray[np.float32], sample_rate: int, reference_text: str
    ) -> dict[str, Any]:
        self.prompt_threads.append(threading.current_thread().name)
        self.reference_texts.append(reference_text)
        self.prompt_started.release()
        self.prompt_release.wait(timeout=30)
        return super().create_voice_prompt(audio, sample_rate, reference_text)


class FakeTranscriber:
    """Says what it is told, with two segments and word timings."""

    name = "fake-whisper"
    model = "fake-tiny"
    languages: tuple[str, ...] = ("en", "de")

    def __init__(self, text: str = "hello world", delay_s: float = 0.0) -> None:
        self.text = text
        self.delay_s = delay_s
        self.calls: list[dict[str, Any]] = []

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
        word_timestamps: bool = False,
    ) -> Transcription:
        if language is not None and language not in self.languages:
            raise UnsupportedLanguageError(f"language {language!r} is not supported")
        self.calls.append(
            {
                "samples": audio.shape[0],
                "rate": sample_rate,
                "language": language,
                "prompt": prompt,
                "temperature": temperature,
                "word_timestamps": word_timestamps,
            }
        )
        if self.delay_s:
            time.sleep(self.delay_s)
        duration = audio.shape[0] / sample_rate
        first, _, second = self.text.partition(" ")
        half = duration / 2
        segments = (
            Segment(id=0, start=0.0, end=half, text=" " + first, words=(Word(first, 0.0, half),)),
            Segment(
                id=1, start=half, end=duration, text=" " + second,
                words=(Word(second, half, duration),),
            ),
        )  # fmt: skip
        return Transcription(
            text=self.text, language=language or "en", duration=duration, segments=segments
        )

    def close(self) -> None:
        return None
