"""The pool, asynchronous: the same rules as :class:`ProviderPool` over AsyncProviderClient.

Health polling runs as an asyncio task from ``async with`` (or :meth:`start`) until
:meth:`aclose`. The local engine is synchronous and runs in a worker thread.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio.to_thread
import httpx

from voicebox_api._client._async import AsyncProviderClient
from voicebox_api._client._breaker import BreakerPolicy, CircuitBreaker
from voicebox_api._client._core import ExchangeObserver
from voicebox_api._client._health_monitor import AsyncHealthMonitor, PollSchedule
from voicebox_api._client._local import LocalEngine
from voicebox_api._client._pool import default_member_retry
from voicebox_api._client._pool_config import PoolConfig
from voicebox_api._client._pool_core import (
    LocalEngineError,
    Member,
    PoolCore,
    ProviderStatus,
    RoutedGenerateResult,
    RoutedVoicePromptResult,
    RoutingPolicy,
    Step,
    annotated,
    best_health,
    local_prompt_response,
    local_result,
)
from voicebox_api._client._prompts import Reference
from voicebox_api._client._results import (
    GenerateResult,
    HealthResult,
    TranscribeResult,
    VoicePromptResult,
)
from voicebox_api._client._retry import RetryPolicy
from voicebox_api._client._stream_tally import StreamTally
from voicebox_api._client._usage import UsageMeter
from voicebox_api._codec import decode_response
from voicebox_api._errors import ProviderError
from voicebox_api._models import GenerateRequest, VoicePromptResponse
from voicebox_api._stream import StreamChunk

__all__ = ["AsyncProviderPool"]

T = TypeVar("T")
AsyncMember = Member[AsyncProviderClient]


class AsyncProviderPool:
    def __init__(
        self,
        config: PoolConfig | None = None,
        *,
        local: LocalEngine | None = None,
        policy: RoutingPolicy = "least_outstanding",
        breaker: BreakerPolicy | None = None,
        member_retry: RetryPolicy | None = None,
        usage: UsageMeter | None = None,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits | None = None,
        on_exchange: ExchangeObserver | None = None,
        prompt_capacity: int = 64,
    ) -> None:
        config = config if config is not None else PoolConfig.from_env()
        retry = member_retry or default_member_retry(config, local)
        members = [
            Member(
                spec,
                AsyncProviderClient(
                    settings=config.settings.replace(
                        tts_remote_url=spec.url, tts_api_key=spec.api_key
                    ),
                    retry=retry,
                    transport=transport,
                    limits=limits,
                    on_exchange=on_exchange,
                ),
                CircuitBreaker(breaker),
            )
            for spec in config.providers
        ]
        self._core = PoolCore(
            config, members, local=local, policy=policy, usage=usage, rng=rng,
            prompt_capacity=prompt_capacity,
        )  # fmt: skip
        self._monitor: AsyncHealthMonitor | None = None
        if config.health_interval_s is not None:
            schedule = PollSchedule(
                [m.name for m in members], config.health_interval_s, config.max_health_interval_s
            )
            self._monitor = AsyncHealthMonitor(schedule, self._poll)

    @property
    def usage(self) -> UsageMeter:
        return self._core.usage

    @property
    def config(self) -> PoolConfig:
        return self._core.config

    def clients(self) -> Mapping[str, AsyncProviderClient]:
        return {m.name: m.client for m in self._core.members}

    def status(self) -> list[ProviderStatus]:
        return self._core.statuses()

    def start(self) -> None:
        """Start background health polling (``async with`` does it)."""
        if self._monitor is not None:
            self._monitor.start()

    async def poll_health(self) -> None:
        for member in self._core.members:
            await self._poll(member.name)

    async def health(self) -> HealthResult:
        """See :meth:`ProviderPool.health`."""
        outcomes = [await self._poll_outcome(member.name) for member in self._core.members]
        return best_health(outcomes)

    # --- Endpoints -----------------------------------------------------------------------------

    async def generate(
        self,
        text: str,
        voice_prompt: Mapping[str, Any],
        language: str = "en",
        seed: int | None = None,
        *,
        voice: str | None = None,
    ) -> RoutedGenerateResult:
        GenerateRequest(text=text, voice_prompt=dict(voice_prompt), language=language, seed=seed)
        steps = self._core.plan_generate(language, voice, voice_prompt)
        errors: list[tuple[str, BaseException]] = []
        for step in steps:
            if not self._core.claim(step):
                continue
            started = time.perf_counter()
            try:
                result = await self._generate_once(step, text, language, seed)
            except (ProviderError, LocalEngineError) as error:
                errors.append((self._core.provider_name(step), error))
                if not self._core.failed(step, error, language):
                    raise annotated(error, errors) from None
                continue
            except BaseException:
                self._core.abandoned(step)
                raise
            finally:
                self._core.release(step)
            self._core.succeeded(step, result.audio.duration_s, time.perf_counter() - started)
            tried = tuple(name for name, _ in errors)
            return RoutedGenerateResult(
                result.audio, result.body, result.response, self._core.provider_name(step), tried
            )
        raise self._core.exhausted(errors)

    async def stream_generate(
        self,
        text: str,
        voice_prompt: Mapping[str, Any],
        language: str = "en",
        seed: int | None = None,
        *,
        voice: str | None = None,
    ) -> AsyncIterator[StreamChunk]:
        """See :meth:`ProviderPool.stream_generate`."""
        GenerateRequest(text=text, voice_prompt=dict(voice_prompt), language=language, seed=seed)
        for member in self._core.unpolled():
            await self._poll(member.name)
        steps = self._core.plan_generate(language, voice, voice_prompt, stream=True)
        errors: list[tuple[str, BaseException]] = []
        for step in steps:
            if step.member is None or not self._core.claim(step):
                continue
            tally = StreamTally()
            started = time.perf_counter()
            chunks: AsyncIterator[StreamChunk] | None = None
            try:
                prompt = step.prompt if step.prompt is not None else await self._recreate(step)
                chunks = step.member.client.stream_generate(text, prompt, language, seed)
                async for chunk in chunks:
                    yield tally.count(chunk)
            except ProviderError as error:
                errors.append((step.name, error))
                if tally.chunks:
                    self._core.broke(step, error)
                    raise annotated(error, errors) from None
                if not self._core.failed(step, error, language):
                    raise annotated(error, errors) from None
                continue
            except BaseException:  # the caller closed the stream early, cancellation
                self._core.abandoned(step)
                raise
            finally:
                if isinstance(chunks, AsyncGenerator):
                    await chunks.aclose()
                self._core.release(step)
            self._core.succeeded(step, tally.seconds, time.perf_counter() - started)
            return
        raise self._core.exhausted(errors)

    async def create_voice_prompt(
        self,
        audio: bytes,
        reference_text: str = "",
        filename: str = "reference.wav",
        *,
        content_type: str | None = None,
    ) -> RoutedVoicePromptResult:
        reference = Reference(audio, reference_text, filename, content_type)
        errors: list[tuple[str, BaseException]] = []
        for step in self._core.plan_create():
            if not self._core.claim(step):
                continue
            try:
                result, engine = await self._create_once(step, reference)
            except (ProviderError, LocalEngineError) as error:
                errors.append((self._core.provider_name(step), error))
                if not self._core.failed(step, error, None):
                    raise annotated(error, errors) from None
                continue
            except BaseException:
                self._core.abandoned(step)
                raise
            finally:
                self._core.release(step)
            self._core.succeeded(step, 0.0, 0.0)
            if len(self._core.members) > 1 or self._core.local is not None:
                self._core.store.remember(result.voice_prompt, engine, reference)
            tried = tuple(name for name, _ in errors)
            name = self._core.provider_name(step)
            return RoutedVoicePromptResult(
                result.voice_prompt, result.body, result.response, name, tried
            )
        raise self._core.exhausted(errors)

    async def transcribe(
        self,
        audio: bytes,
        language: str | None = None,
        filename: str = "audio.wav",
        *,
        content_type: str | None = None,
    ) -> TranscribeResult:
        """``POST /v1/transcribe`` on the first provider's Whisper server (not pooled)."""
        client = self._core.members[0].client
        return await client.transcribe(audio, language, filename, content_type=content_type)

    # --- Attempts ------------------------------------------------------------------------------

    async def _generate_once(
        self, step: Step[AsyncProviderClient], text: str, language: str, seed: int | None
    ) -> GenerateResult:
        prompt = step.prompt if step.prompt is not None else await self._recreate(step)
        if step.member is None:
            body = await self._local_call(lambda e: e.generate(text, prompt, language, seed))
            try:
                audio = decode_response(body)
            except Exception as exc:
                raise LocalEngineError(f"the local engine's audio is invalid: {exc}") from exc
            response, body = local_result(self._core.local_name, body)
            return GenerateResult(audio, body, response)
        return await step.member.client.generate(text, prompt, language, seed)

    async def _recreate(self, step: Step[AsyncProviderClient]) -> Mapping[str, Any]:
        stored = step.stored
        if stored is None:
            raise AssertionError("a step without a prompt has a stored reference")
        ref = stored.reference
        if step.member is None:
            prompt = await self._local_call(lambda e: e.create_voice_prompt(ref.audio, ref.text))
            self._core.store.add_translation(stored, self._core.local_name, prompt)
            return prompt
        result = await step.member.client.create_voice_prompt(
            ref.audio, ref.text, ref.filename, content_type=ref.content_type
        )
        engine = await self._engine(step.member)
        self._core.store.add_translation(stored, engine, result.voice_prompt)
        return result.voice_prompt

    async def _create_once(
        self, step: Step[AsyncProviderClient], reference: Reference
    ) -> tuple[VoicePromptResult, str]:
        if step.member is None:
            prompt = await self._local_call(
                lambda e: e.create_voice_prompt(reference.audio, reference.text)
            )
            response = local_prompt_response(self._core.local_name, prompt)
            body = VoicePromptResponse(voice_prompt=prompt)
            return VoicePromptResult(prompt, body, response), self._core.local_name
        result = await step.member.client.create_voice_prompt(
            reference.audio,
            reference.text,
            reference.filename,
            content_type=reference.content_type,
        )
        return result, await self._engine(step.member)

    async def _local_call(self, call: Callable[[LocalEngine], T]) -> T:
        engine = self._core.local
        if engine is None:
            raise AssertionError("no local engine")
        try:
            return await anyio.to_thread.run_sync(call, engine)
        except Exception as exc:
            raise LocalEngineError(f"the local engine failed: {exc}") from exc

    async def _engine(self, member: AsyncMember) -> str:
        if member.engine is None and len(self._core.members) > 1:
            await self._poll(member.name)
        return self._core.engine_key(member)

    async def _poll(self, name: str) -> bool:
        return isinstance(await self._poll_outcome(name), HealthResult)

    async def _poll_outcome(self, name: str) -> HealthResult | ProviderError:
        member = self._core.by_name[name]
        outcome: HealthResult | ProviderError
        try:
            outcome = await member.client.health()
        except ProviderError as error:
            outcome = error
        self._core.record_health(member, outcome)
        return outcome

    # --- Life cycle ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._monitor is not None:
            await self._monitor.stop()
        for member in self._core.members:
            await member.client.aclose()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
