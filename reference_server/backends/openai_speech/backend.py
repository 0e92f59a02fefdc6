"""``--backend openai-speech``: Voicebox's ``/v1/generate`` on an OpenAI-compatible speech server.

Each job becomes one ``POST {upstream}/audio/speech`` with ``response_format=pcm`` (s16le mono
24 kHz, SPEC.md SPEECH-5), the prompt's recording as a ``ref_audio`` data URL and its
``ref_text`` (vLLM-Omni's cloning extension), the job's seed when it has one, and the language as
vLLM-Omni names it. A batch's jobs go upstream concurrently over one pooled ``httpx.Client``.

Failures of the upstream never reach the client as its text: down, timing out, overloaded or
answering 5xx is ``UpstreamUnavailableError`` (503 with ``Retry-After``); a 4xx is the request's
fault and a ``BackendError`` (422) naming only the status. ``/health`` reports the upstream's
state (``health.py``): ``unhealthy`` while it is down, probed in the background and cached.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import httpx
import numpy as np

from reference_server.backends.base import (
    BackendError,
    GenerateJob,
    Synthesis,
    UpstreamUnavailableError,
)
from reference_server.backends.openai_speech.health import (
    PROBE_TIMEOUT_S,
    UpstreamHealth,
    health_url,
)
from reference_server.backends.openai_speech.prompt import (
    BridgeVoice,
    make_prompt,
    parse_prompt,
)
from voicebox_api import SPEECH_PCM_SAMPLE_RATE, HealthStatus, parse_retry_after

__all__ = ["BridgeSettings", "OpenAISpeechBackend", "StreamingOpenAISpeechBackend"]

logger = logging.getLogger(__name__)

LANGUAGE_NAMES: Final = {
    "zh": "Chinese",
    "en": "English",
    "ja": "Japanese",
    "ko": "Korean",
    "de": "German",
    "fr": "French",
    "ru": "Russian",
    "pt": "Portuguese",
    "es": "Spanish",
    "it": "Italian",
}
"""The ten languages of Qwen3-TTS, by the names vLLM-Omni takes."""
_DEFAULT_RETRY_AFTER_S: Final = 5
UPSTREAM_KEY_ENV: Final = "OPENAI_SPEECH_UPSTREAM_KEY"
"""The upstream's key, kept out of the command line (``api_key=`` works too)."""


@dataclass(frozen=True)
class BridgeSettings:
    upstream: str
    """The upstream's OpenAI base URL, e.g. ``http://gpu-box:8091/v1``."""
    model: str = "tts-1"
    voice: str = "alloy"
    api_key: str | None = None
    timeout_s: float = 120.0
    connect_timeout_s: float = 5.0
    concurrency: int = 4
    forward_seed: bool = True
    deterministic: bool = False
    """Declare ``deterministic_seed``: only when the upstream is known to honour seeds."""
    languages: tuple[str, ...] = tuple(LANGUAGE_NAMES)
    stream: bool = True
    """Declare ``streaming`` and forward ``/v1/generate`` streams as upstream ``stream=true``."""
    health_ttl_s: float = 5.0
    """How long ``/health`` trusts its last look at the upstream."""

    @classmethod
    def from_options(cls, options: dict[str, str], model: str | None) -> BridgeSettings:
        known = {"upstream", "voice", "api_key", "timeout_s", "concurrency", "seed",
                 "deterministic", "languages", "stream"}  # fmt: skip
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown openai-speech options: {', '.join(unknown)}")
        if not options.get("upstream", "").startswith(("http://", "https://")):
            raise ValueError("the openai-speech backend needs upstream=http(s)://host:port/v1")
        languages = options.get("languages")
        return cls(
            upstream=options["upstream"].rstrip("/"),
            model=model or "tts-1",
            voice=options.get("voice", "alloy"),
            api_key=options.get("api_key") or os.environ.get(UPSTREAM_KEY_ENV) or None,
            timeout_s=float(options.get("timeout_s", 120.0)),
            concurrency=max(1, int(options.get("concurrency", 4))),
            forward_seed=options.get("seed", "forward") != "drop",
            deterministic=options.get("deterministic", "false").lower() in ("1", "true", "yes"),
            languages=tuple(languages.split("+")) if languages else tuple(LANGUAGE_NAMES),
            stream=options.get("stream", "true").lower() in ("1", "true", "yes"),
        )


class OpenAISpeechBackend:
    name = "openai-speech"
    device = "upstream"
    sample_rate = SPEECH_PCM_SAMPLE_RATE

    def __init__(self, settings: BridgeSettings, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self.model = settings.model
        self.languages = settings.languages
        self.deterministic = settings.deterministic and settings.forward_seed
        self.max_batch_size = settings.concurrency
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._http = httpx.Client(
            base_url=settings.upstream,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.concurrency,
                max_keepalive_connections=settings.concurrency,
            ),
            transport=transport,
        )
        self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="bridge")
        self._probe_http = httpx.Client(
            headers=headers,
            timeout=PROBE_TIMEOUT_S,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            transport=transport,
        )
        self.upstream_health = UpstreamHealth(
            self._probe_http, health_url(settings.upstream), ttl_s=settings.health_ttl_s
        )

    @classmethod
    def from_options(cls, options: dict[str, str], model: str | None) -> OpenAISpeechBackend:
        settings = BridgeSettings.from_options(options, model)
        return StreamingOpenAISpeechBackend(settings) if settings.stream else cls(settings)

    def create_voice_prompt(
        self, audio: np.ndarray[Any, Any], sample_rate: int, reference_text: str
    ) -> dict[str, Any]:
        if audio.size < sample_rate // 2:
            raise BackendError("the reference recording is shorter than half a second")
        return make_prompt(audio, sample_rate, reference_text)

    def parse_voice_prompt(self, prompt: dict[str, Any]) -> BridgeVoice:
        return parse_prompt(prompt)

    def generate(self, jobs: Sequence[GenerateJob]) -> list[Synthesis]:
        if len(jobs) == 1:
            return [self._one(jobs[0])]
        return list(self._pool.map(self._one, jobs))

    def health_status(self) -> HealthStatus:
        """The upstream's state for ``/health``; never waits for the upstream."""
        return self.upstream_health.status()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()
        self.upstream_health.wait_idle(PROBE_TIMEOUT_S)
        self._probe_http.close()

    # --- one upstream request ---------------------------------------------------------------

    def body(self, job: GenerateJob) -> dict[str, Any]:
        voice: BridgeVoice = job.voice
        body: dict[str, Any] = {
            "model": self.settings.model,
            "input": job.text,
            "voice": self.settings.voice,
            "response_format": "pcm",
            "task_type": "Base",
            "language": LANGUAGE_NAMES.get(job.language, job.language),
            "ref_audio": voice.data_url,
            "ref_text": voice.ref_text,
        }
        if not voice.ref_text:
            body["x_vector_only_mode"] = True
        if job.seed is not None and self.settings.forward_seed:
            body["seed"] = job.seed
        return body

    def _one(self, job: GenerateJob) -> Synthesis:
        try:
            response = self._http.post("/audio/speech", json=self.body(job))
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        self._check(response, response.text)
        return _pcm_synthesis(response.content)

    def _unreachable(self, error: httpx.HTTPError) -> UpstreamUnavailableError:
        if isinstance(error, httpx.ConnectError):
            self.upstream_health.observe("unhealthy")
        if isinstance(error, httpx.TimeoutException):
            return UpstreamUnavailableError("the upstream speech server timed out")
        return UpstreamUnavailableError("the upstream speech server is unreachable")

    def _check(self, response: httpx.Response, text: str) -> None:
        """Raise for anything but 200, without the upstream's text (only logged)."""
        status = response.status_code
        if status in (429, 503) or status >= 500:
            logger.warning("upstream answered %d: %s", status, text[:300])
            raise UpstreamUnavailableError(
                f"the upstream speech server is unavailable (HTTP {status})",
                _retry_after(response) if status in (429, 503) else _DEFAULT_RETRY_AFTER_S,
            )
        if status != 200:
            logger.info("upstream refused a request with %d: %s", status, text[:300])
            raise BackendError(f"the upstream speech server refused the request (HTTP {status})")


class StreamingOpenAISpeechBackend(OpenAISpeechBackend):
    """The bridge that streams: a ``/v1/generate`` stream is one upstream ``stream=true`` pcm
    request (``stream_format=audio``), its bytes handed on as they arrive. Closing the stream
    early closes the upstream response, which stops a server that, like the reference server,
    stops when its reader leaves."""

    stream_granularity = "frame"
    """Whatever the upstream's chunks are: the bridge adds no delay of its own."""

    def stream(self, job: GenerateJob) -> Iterator[Synthesis]:
        body = {**self.body(job), "stream": True, "stream_format": "audio"}
        try:
            with self._http.stream("POST", "/audio/speech", json=body) as response:
                if response.status_code != 200:
                    self._check(response, response.read().decode("utf-8", "replace"))
                yield from _pcm_pieces(response.iter_bytes())
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None


def _pcm_pieces(chunks: Iterator[bytes]) -> Iterator[Synthesis]:
    """s16le chunks as pieces of whole samples (a chunk may split a sample)."""
    carry, sent = b"", False
    for chunk in chunks:
        data = carry + chunk
        whole = len(data) - len(data) % 2
        carry = data[whole:]
        if whole:
            sent = True
            yield _pcm_synthesis(data[:whole])
    if carry or not sent:
        raise UpstreamUnavailableError("the upstream speech server sent malformed PCM")


def _retry_after(response: httpx.Response) -> int:
    seconds = parse_retry_after(response.headers.get("retry-after"))
    if seconds is None:
        return _DEFAULT_RETRY_AFTER_S
    return max(1, min(300, round(seconds)))


def _pcm_synthesis(data: bytes) -> Synthesis:
    if len(data) < 2 or len(data) % 2:
        raise UpstreamUnavailableError("the upstream speech server sent malformed PCM")
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return Synthesis(samples=samples, sample_rate=SPEECH_PCM_SAMPLE_RATE)
