"""The asynchronous provider client (asyncio; it sleeps through anyio, as httpx does)."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import anyio
import httpx
from typing_extensions import Unpack

from voicebox_api._client import _endpoints as endpoints
from voicebox_api._client._core import (
    DEFAULT_LIMITS,
    ClientCore,
    ExchangeObserver,
    default_headers,
    resolve_settings,
)
from voicebox_api._client._endpoints import Endpoint, RequestOptions, RequestSpec
from voicebox_api._client._results import (
    GenerateResult,
    HealthResult,
    TranscribeResult,
    TranscriptionResult,
    VoicePromptResult,
)
from voicebox_api._client._retry import RETRYABLE_STATUSES, RetryPolicy
from voicebox_api._client._streaming import StreamReading, stream_spec
from voicebox_api._models import OpenAIResponseFormat
from voicebox_api._settings import Settings
from voicebox_api._stream import StreamChunk

__all__ = ["AsyncProviderClient"]

R = TypeVar("R")


class AsyncProviderClient(ClientCore):
    """A typed client of a Voicebox provider (SPEC.md), asynchronous; see ProviderClient.

    Without ``settings`` it reads the environment (:meth:`Settings.from_env`); ``base_url``
    and ``api_key`` override ``TTS_REMOTE_URL`` and ``TTS_API_KEY``. ``sleep`` and ``rng`` are
    injectable so that tests of the retry policy neither sleep nor vary. ``on_exchange`` sees
    every attempt (see :class:`Exchange`). ``transport`` and ``limits`` go to httpx.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        settings: Settings | None = None,
        retry: RetryPolicy | None = None,
        on_exchange: ExchangeObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        resolved = resolve_settings(settings, base_url, api_key)
        super().__init__(resolved, retry=retry or RetryPolicy(), on_exchange=on_exchange, rng=rng)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            transport=transport,
            limits=limits or DEFAULT_LIMITS,
            timeout=resolved.timeout,
            headers=default_headers(headers),
            follow_redirects=False,
        )

    # --- Endpoints -----------------------------------------------------------------------------

    async def health(self) -> HealthResult:
        """``GET /health``; a 503 with a health body (``loading``) is returned, not raised."""
        return await self._call(endpoints.health())

    async def create_voice_prompt(
        self,
        audio: bytes,
        reference_text: str = "",
        filename: str = "reference.wav",
        *,
        content_type: str | None = None,
    ) -> VoicePromptResult:
        """``POST /v1/create_voice_prompt``; the media type is sniffed when not given."""
        return await self._call(
            endpoints.create_voice_prompt(audio, reference_text, filename, content_type)
        )

    async def generate(
        self,
        text: str,
        voice_prompt: Mapping[str, Any],
        language: str = "en",
        seed: int | None = None,
    ) -> GenerateResult:
        """``POST /v1/generate``; the audio comes back decoded and checked (AUD-1..5)."""
        return await self._call(endpoints.generate(text, voice_prompt, language, seed))

    async def stream_generate(
        self,
        text: str,
        voice_prompt: Mapping[str, Any],
        language: str = "en",
        seed: int | None = None,
    ) -> AsyncIterator[StreamChunk]:
        """``POST /v1/generate`` as a stream; see :meth:`ProviderClient.stream_generate`."""
        response, attempts = await self._open_stream(
            stream_spec(text, voice_prompt, language, seed)
        )
        reading = StreamReading(self, response, attempts)
        try:
            reading.check_media_type()
            chunks = response.aiter_bytes()
            while True:
                try:
                    data = await anext(chunks)
                except StopAsyncIteration:
                    break
                except (httpx.RequestError, httpx.StreamError) as exc:
                    raise reading.broken(exc) from None
                for chunk in reading.feed(data):
                    yield chunk
            reading.finish()
        finally:
            await response.aclose()

    async def transcribe(
        self,
        audio: bytes,
        language: str | None = None,
        filename: str = "audio.wav",
        *,
        content_type: str | None = None,
    ) -> TranscribeResult:
        """``POST /v1/transcribe`` on the Whisper server."""
        return await self._call(endpoints.transcribe(audio, language, filename, content_type))

    async def transcriptions(
        self,
        file: bytes,
        model: str = "whisper-1",
        *,
        language: str | None = None,
        prompt: str | None = None,
        response_format: OpenAIResponseFormat = "json",
        temperature: float | None = None,
        timestamp_granularities: Sequence[Literal["word", "segment"]] | None = None,
        filename: str = "audio.wav",
        content_type: str | None = None,
    ) -> TranscriptionResult:
        """OpenAI's ``POST /audio/transcriptions`` at ``OPENAI_BASE_URL``."""
        return await self._call(
            endpoints.transcriptions(
                file,
                model=model,
                language=language,
                prompt=prompt,
                response_format=response_format,
                temperature=temperature,
                timestamp_granularities=timestamp_granularities,
                filename=filename,
                content_type=content_type,
            )
        )

    # --- Low level -----------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, **options: Unpack[RequestOptions]
    ) -> httpx.Response:
        """Send any request and return the raw answer, whatever its status.

        For deliberate probes: malformed bodies (``content=``), wrong content types
        (``headers=``), ``auth="none"``/``"wrong"``. Not retried unless ``retry=True``.
        Transport failures still raise :class:`ProviderTransportError` (with a curl command).
        """
        spec, retry = self._spec(method, path, options)
        return (await self._exchange("request", spec, retry, RETRYABLE_STATUSES))[0]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- I/O -----------------------------------------------------------------------------------

    async def _call(self, endpoint: Endpoint[R]) -> R:
        response, attempts = await self._exchange(
            endpoint.name, endpoint.spec, True, endpoint.retry_statuses
        )
        return self._finish(endpoint, response, attempts)

    async def _exchange(
        self, name: str, spec: RequestSpec, retry: bool, statuses: frozenset[int]
    ) -> tuple[httpx.Response, int]:
        schedule = self._schedule(retry, statuses)
        while True:
            attempt = schedule.start_attempt()
            request = self._build(self._http, spec)
            outcome = await self._send_once(name, attempt, request)
            delay = schedule.delay_after(outcome)
            if delay is None:
                return self._settle(request, outcome, attempt), attempt
            self._log_retry(request, outcome, delay)
            await self._sleep(delay)

    async def _open_stream(self, spec: RequestSpec) -> tuple[httpx.Response, int]:
        """Send until a status line that is not retried; a 200's body is left unread."""
        schedule = self._schedule(True, RETRYABLE_STATUSES)
        while True:
            attempt = schedule.start_attempt()
            request = self._build(self._http, spec)
            outcome = await self._send_once("stream_generate", attempt, request, stream=True)
            if isinstance(outcome, httpx.Response) and outcome.status_code != 200:
                await outcome.aread()
                await outcome.aclose()
            delay = schedule.delay_after(outcome)
            if delay is None:
                response = self._settle(request, outcome, attempt)
                if response.status_code != 200:
                    raise self._http_error(response, spec.target, attempt)
                return response, attempt
            self._log_retry(request, outcome, delay)
            await self._sleep(delay)

    async def _send_once(
        self, name: str, attempt: int, request: httpx.Request, *, stream: bool = False
    ) -> httpx.Response | httpx.RequestError:
        started = time.perf_counter()
        outcome: httpx.Response | httpx.RequestError
        try:
            outcome = await self._http.send(request, stream=stream)
        except httpx.RequestError as exc:
            outcome = exc
        self._observe(name, attempt, request, outcome, time.perf_counter() - started)
        return outcome
