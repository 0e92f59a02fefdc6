"""The server's moving parts from start-up to shutdown: backends, their queues, and health.

Models load on a background thread after the server starts listening, so ``/health`` answers
``loading`` (503 with Retry-After) meanwhile instead of refusing connections. A TTS backend that
fails to load makes the server ``unhealthy``; a transcription backend that fails makes it
``degraded`` (speech still works). A backend that ``ReportsHealth`` (the bridge, whose upstream
can go down) can make a ready server worse than ``healthy``, never better.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
import soundfile as sf

from reference_server.backends.base import (
    BackendError,
    GenerateJob,
    ReportsHealth,
    StreamingTTSBackend,
    Synthesis,
    Transcription,
    TranscriptionBackend,
    TTSBackend,
    UnsupportedLanguageError,
    UpstreamUnavailableError,
    VoicePromptError,
)
from reference_server.config import ServerConfig
from reference_server.encoding import EncodedAudio, generate_encoded
from reference_server.errors import ApiError
from reference_server.metrics import Metrics, QueueState
from reference_server.scheduler import JobStats, QueueFullError, Scheduler, SchedulerClosedError
from voicebox_api import SPEC_VERSION, AudioFormat, Capabilities, HealthResponse, HealthStatus

__all__ = ["Phase", "Runtime", "TTSFactory", "TranscriberFactory"]

logger = logging.getLogger(__name__)

TTSFactory = Callable[[], TTSBackend]
"""Makes one backend instance; called once per inference worker."""
TranscriberFactory = Callable[[], TranscriptionBackend | None]
"""Makes the transcription backend, or None when transcription is off."""

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")

LOADING_RETRY_AFTER: Final = "5"
_SEVERITY: Final[tuple[HealthStatus, ...]] = ("healthy", "degraded", "loading", "unhealthy")
_FORMATS: Final[dict[str, AudioFormat]] = {"WAV": "wav", "FLAC": "flac", "OGG": "ogg", "MP3": "mp3"}


class Phase(enum.Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    STOPPED = "stopped"


class Runtime:
    def __init__(
        self,
        config: ServerConfig,
        *,
        tts_factory: TTSFactory,
        transcriber_factory: TranscriberFactory,
        metrics: Metrics,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self._tts_factory = tts_factory
        self._transcriber_factory = transcriber_factory
        self.phase = Phase.LOADING
        self.tts: TTSBackend | None = None
        self.transcriber: TranscriptionBackend | None = None
        self.transcriber_failed = False
        self._tts_instances: list[TTSBackend] = []
        self._tts_queue: Scheduler[TTSBackend] | None = None
        self._transcribe_queue: Scheduler[TranscriptionBackend] | None = None
        self._ready = asyncio.Event()

    # --- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the backends (on a daemon thread: a model load cannot hold up an exit)."""
        try:
            instances = await _in_daemon_thread(self._load_tts, "load-tts")
        except Exception:
            logger.exception("the %s backend failed to load", self.config.backend)
            self.phase = Phase.FAILED
            self._ready.set()
            return
        self._tts_instances = instances
        self.tts = instances[0]
        try:
            self.transcriber = await _in_daemon_thread(self._transcriber_factory, "load-whisper")
        except Exception:
            logger.exception("the transcription backend failed to load; serving without it")
            self.transcriber_failed = True
        self._start_queues()
        self.phase = Phase.READY
        self._ready.set()
        logger.info(
            "ready: backend %s (model %s on %s), %d worker(s), transcription %s",
            self.tts.name,
            self.tts.model,
            self.tts.device,
            len(instances),
            self.transcriber.model if self.transcriber else "off",
        )

    async def wait_ready(self) -> Phase:
        await self._ready.wait()
        return self.phase

    async def stop(self) -> None:
        """Finish queued jobs (bounded by the shutdown timeout), then close the backends."""
        self.phase = Phase.STOPPED
        timeout = self.config.shutdown_timeout_s
        for queue in (self._tts_queue, self._transcribe_queue):
            if queue is not None and not await asyncio.to_thread(queue.close, timeout):
                logger.warning("inference workers still busy after %.0f s; exiting anyway", timeout)
        for backend in (*self._tts_instances, self.transcriber):
            if backend is not None:
                try:
                    backend.close()
                except Exception:
                    logger.exception("closing backend %s failed", backend.name)

    def _load_tts(self) -> list[TTSBackend]:
        return [self._tts_factory() for _ in range(self.config.workers)]

    def _start_queues(self) -> None:
        assert self.tts is not None
        max_batch = max(1, int(getattr(self.tts, "max_batch_size", 1)))
        if self.config.max_batch_size is not None:
            max_batch = min(max_batch, self.config.max_batch_size)
        self._tts_queue = Scheduler(
            self._tts_instances,
            queue_size=self.config.queue_size,
            max_batch_size=max_batch,
            batch_window_s=self.config.batch_window_ms / 1000.0,
            name="tts",
            observer=self.metrics.batch_observer("tts"),
        )
        self._tts_queue.start()
        if self.transcriber is not None:
            self._transcribe_queue = Scheduler(
                [self.transcriber],
                queue_size=self.config.queue_size,
                name="transcribe",
                observer=self.metrics.batch_observer("transcribe"),
            )
            self._transcribe_queue.start()

    # --- access -----------------------------------------------------------------------------------

    def require_tts(self) -> TTSBackend:
        if self.phase is Phase.READY and self.tts is not None:
            return self.tts
        raise _unavailable(self.phase)

    def require_transcriber(self) -> TranscriptionBackend:
        if self.phase is not Phase.READY:
            raise _unavailable(self.phase)
        if self.transcriber is not None:
            return self.transcriber
        if self.transcriber_failed:
            raise ApiError(
                503,
                "transcription failed to load on this server",
                code="transcription_unavailable",
                headers={"Retry-After": "60"},
            )
        raise ApiError(404, "transcription is not enabled on this server", code="not_found")

    def queue_states(self) -> dict[str, QueueState]:
        return {
            name: QueueState(
                depth=queue.depth, running=queue.running, capacity=self.config.queue_size
            )
            for name, queue in (("tts", self._tts_queue), ("transcribe", self._transcribe_queue))
            if queue is not None
        }

    def admission_capacity(self, queue_name: str) -> int:
        """Requests the admission control lets in for a queue: what waits, runs, or reads."""
        queue = self._queue(queue_name)
        running = queue.workers * queue.max_batch_size if queue is not None else 1
        return self.config.queue_size + running + self.config.admission_slack

    def retry_after_s(self, queue_name: str) -> int:
        queue = self._queue(queue_name)
        return queue.retry_after_s() if queue is not None else int(LOADING_RETRY_AFTER)

    def _queue(self, name: str) -> Scheduler[Any] | None:
        return self._tts_queue if name == "tts" else self._transcribe_queue

    # --- work -------------------------------------------------------------------------------------

    async def generate(self, job: GenerateJob) -> tuple[EncodedAudio, JobStats]:
        """Generate and encode one job; the stats' inference time includes the encoding."""
        tts = self.require_tts()
        key_of = getattr(tts, "batch_key", None)
        key: Hashable = key_of(job) if callable(key_of) else "generate"
        encoded, stats = await self._submit(self._tts_queue, job, generate_encoded, key)
        self.metrics.audio_seconds.inc(encoded.audio_seconds)
        if encoded.audio_seconds > 0:
            # A batch's time is shared by its jobs: the amortised real-time factor.
            model_s = stats.inference_s - encoded.batch_encode_s
            self.metrics.rtf.observe(model_s / stats.batch_size / encoded.audio_seconds)
        return encoded, stats

    async def synthesize(self, job: GenerateJob) -> tuple[Synthesis, JobStats]:
        """Generate one job and return its samples (for /v1/audio/speech, which encodes them
        in the format the client asks for)."""
        self.require_tts()
        synthesis, stats = await self._submit(self._tts_queue, job, _synthesize, None)
        self.metrics.audio_seconds.inc(synthesis.samples.shape[0] / synthesis.sample_rate)
        return synthesis, stats

    async def run_tts(
        self, payload: P, run: Callable[[TTSBackend, list[P]], Sequence[R]]
    ) -> tuple[R, JobStats]:
        """Run ``run`` on a TTS worker through the same queue as every generation (the
        streamed and WAV answers of ``reference_server.streaming``)."""
        self.require_tts()
        return await self._submit(self._tts_queue, payload, run, None)

    async def create_voice_prompt(
        self, audio: npt.NDArray[np.float32], sample_rate: int, reference_text: str
    ) -> tuple[dict[str, Any], JobStats]:
        self.require_tts()
        return await self._submit(
            self._tts_queue, (audio, sample_rate, reference_text), _create_voice_prompt, None
        )

    async def transcribe(
        self, audio: npt.NDArray[np.float32], sample_rate: int, options: dict[str, Any]
    ) -> tuple[Transcription, JobStats]:
        self.require_transcriber()
        return await self._submit(
            self._transcribe_queue, (audio, sample_rate, options), _transcribe, None
        )

    async def _submit(
        self,
        queue: Scheduler[Any] | None,
        payload: P,
        run: Callable[[Any, list[P]], Sequence[R]],
        key: Hashable | None,
    ) -> tuple[R, JobStats]:
        if queue is None:
            raise _unavailable(self.phase)
        timeout = self.config.request_timeout_s
        try:
            result, stats = await queue.submit(payload, run, key=key, timeout_s=timeout)
        except QueueFullError as exc:
            self.metrics.rejected.labels("queue_full").inc()
            raise ApiError(
                503,
                "the server is busy: its queue is full",
                code="queue_full",
                headers={"Retry-After": str(exc.retry_after_s)},
            ) from None
        except SchedulerClosedError:
            raise _unavailable(Phase.STOPPED) from None
        except TimeoutError:
            self.metrics.rejected.labels("timeout").inc()
            raise ApiError(
                503,
                f"the request did not finish within {timeout:g} s",
                code="timeout",
                headers={"Retry-After": "10"},
            ) from None
        except UpstreamUnavailableError as exc:
            self.metrics.rejected.labels("upstream").inc()
            raise ApiError(
                503,
                str(exc),
                code="upstream_unavailable",
                headers={"Retry-After": str(exc.retry_after_s)},
            ) from None
        except UnsupportedLanguageError as exc:
            raise ApiError(422, str(exc), code="unsupported_language") from None
        except VoicePromptError as exc:
            raise ApiError(422, str(exc), code="invalid_voice_prompt") from None
        except BackendError as exc:
            raise ApiError(422, str(exc), code="backend_rejected") from None
        self.metrics.queue_wait.labels(queue.name).observe(stats.queue_s)
        return result, stats

    # --- health -----------------------------------------------------------------------------------

    def health(self) -> tuple[HealthResponse, int]:
        """The body of ``GET /health`` and its status code (HLT-1..3, VER-1)."""
        if self.phase is Phase.READY and self.tts is not None:
            status: HealthStatus = "degraded" if self.transcriber_failed else "healthy"
            if isinstance(self.tts, ReportsHealth):
                status = max(status, self.tts.health_status(), key=_SEVERITY.index)
            body = HealthResponse(
                status=status,
                model=self.tts.model,
                device=self.tts.device,
                api_version=SPEC_VERSION,
                capabilities=self.capabilities(),
            )
            return body, 200 if status in ("healthy", "degraded") else 503
        waiting: HealthStatus = "loading" if self.phase is Phase.LOADING else "unhealthy"
        body = HealthResponse(
            status=waiting,
            model=self.config.model or self.config.backend,
            device=self.config.device,
            api_version=SPEC_VERSION,
        )
        return body, 503

    def capabilities(self) -> Capabilities:
        assert self.tts is not None
        transcriber = self.transcriber
        return Capabilities(
            languages=sorted(self.tts.languages),
            dtypes=["float32"],
            sample_rates=[self.tts.sample_rate],
            max_text_length=self.config.max_text_length,
            max_upload_bytes=self.config.max_upload_bytes,
            audio_formats=supported_audio_formats(),
            deterministic_seed=bool(self.tts.deterministic),
            transcribe=transcriber is not None,
            openai_transcriptions=transcriber is not None,
            transcribe_languages=sorted(transcriber.languages) if transcriber else None,
            openai_speech=True,
            streaming=isinstance(self.tts, StreamingTTSBackend),
            stream_granularity=getattr(self.tts, "stream_granularity", None),
            wav_audio=True,
        )


def supported_audio_formats() -> list[AudioFormat]:
    """The upload formats this machine's libsndfile decodes."""
    available = sf.available_formats()
    return [short for name, short in _FORMATS.items() if name in available]


def _unavailable(phase: Phase) -> ApiError:
    reason = {
        Phase.LOADING: ("the server is still loading its model", "loading"),
        Phase.FAILED: ("the server's model failed to load", "unhealthy"),
        Phase.STOPPED: ("the server is shutting down", "shutting_down"),
        Phase.READY: ("the server cannot take this request now", "unavailable"),
    }[phase]
    return ApiError(503, reason[0], code=reason[1], headers={"Retry-After": LOADING_RETRY_AFTER})


def _synthesize(backend: TTSBackend, jobs: list[GenerateJob]) -> list[Synthesis]:
    return backend.generate(jobs)


def _create_voice_prompt(
    backend: TTSBackend, items: list[tuple[npt.NDArray[np.float32], int, str]]
) -> list[dict[str, Any]]:
    return [backend.create_voice_prompt(audio, rate, text) for audio, rate, text in items]


def _transcribe(
    backend: TranscriptionBackend,
    items: list[tuple[npt.NDArray[np.float32], int, dict[str, Any]]],
) -> list[Transcription]:
    return [backend.transcribe(audio, rate, **options) for audio, rate, options in items]


async def _in_daemon_thread(function: Callable[[], T], name: str) -> T:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = function()
        except BaseException as exc:
            loop.call_soon_threadsafe(_settle, future, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future


def _settle(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
