"""Fake providers behind one httpx.MockTransport, keyed by host, and a local engine adapter."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from reference_server.backends.base import GenerateJob, TTSBackend, VoicePromptError
from voicebox_api import (
    STREAM_MEDIA_TYPE,
    GenerateResponse,
    PoolConfig,
    ProviderSpec,
    Settings,
    audio_frame,
    encode_response,
    end_frame,
    header_frame,
    read_audio,
    write_audio,
)

Behaviour = Callable[[httpx.Request], httpx.Response | None]


def reference_wav() -> bytes:
    t = np.arange(12_000) / 24_000
    return write_audio((0.3 * np.sin(2 * np.pi * 140 * t)).astype(np.float32), 24_000)


@dataclass
class FakeProvider:
    """A provider whose prompts are ``{"engine": ENGINE, "id": n}``; it refuses other engines'
    prompts and languages outside ``languages`` with 422. ``fail`` may answer instead."""

    host: str
    engine: str = "fake-a"
    languages: Collection[str] = ("en", "de", "fr")
    status: str = "healthy"
    streaming: bool = False
    """Declares ``capabilities.streaming`` and answers ``Accept: STREAM_MEDIA_TYPE`` framed."""
    fail: Behaviour | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail is not None and (answer := self.fail(request)) is not None:
            return answer
        path = request.url.path
        if path.endswith("/health"):
            code = 200 if self.status in ("healthy", "degraded") else 503
            caps: dict[str, Any] = {"languages": list(self.languages)}
            if self.streaming:
                caps["streaming"] = True
            body = {"status": self.status, "model": self.engine, "device": "cpu",
                    "api_version": "0.2", "capabilities": caps}  # fmt: skip
            return httpx.Response(code, json=body)
        if path.endswith("/v1/create_voice_prompt"):
            return httpx.Response(200, json={"voice_prompt": {"engine": self.engine, "id": 1}})
        return self._generate(request)

    def _generate(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["language"] not in self.languages:
            return httpx.Response(422, json={"detail": "unsupported language"})
        if body["voice_prompt"].get("engine") != self.engine:
            return httpx.Response(422, json={"detail": "not my voice prompt"})
        samples = np.full(2400, 0.1, dtype=np.float32)
        if self.streaming and request.headers.get("accept") == STREAM_MEDIA_TYPE:
            return stream_answer(header_frame(24_000, "float32"),
                                 *(audio_frame(half, "float32") for half in np.split(samples, 2)),
                                 end_frame(samples.size))  # fmt: skip
        return httpx.Response(200, json=encode_response(samples, 24_000).model_dump())

    def generates(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/v1/generate")]


class FakeNet:
    def __init__(self, *providers: FakeProvider) -> None:
        self.providers = {p.host: p for p in providers}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        provider = self.providers.get(request.url.host)
        if provider is None:
            raise httpx.ConnectError("connection refused", request=request)
        return provider.handle(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def config(self, max_attempts: int = 3, **spec: Any) -> PoolConfig:
        specs = tuple(ProviderSpec(f"http://{h}:8000", name=h, **spec) for h in self.providers)
        return PoolConfig(specs, max_attempts=max_attempts, health_interval_s=None,
                          settings=Settings())  # fmt: skip


class Pieces(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that arrives in pieces and may break off with a transport error."""

    def __init__(self, *pieces: bytes | Exception) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            if isinstance(piece, Exception):
                raise piece
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.__iter__():
            yield piece


def stream_answer(*pieces: bytes | Exception) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": STREAM_MEDIA_TYPE}, stream=Pieces(*pieces))


def refuse(status: int) -> Behaviour:
    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/health"):
            return None
        return httpx.Response(status, json={"detail": f"refused with {status}"})

    return answer


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


class BackendEngine:
    """A reference-server backend (synthetic, espeak, ...) as the pool's LocalEngine."""

    def __init__(self, backend: TTSBackend, languages: Collection[str] = ()) -> None:
        self.backend = backend
        self.name = backend.name
        self.languages = languages or backend.languages

    def accepts(self, voice_prompt: Mapping[str, Any]) -> bool:
        try:
            self.backend.parse_voice_prompt(dict(voice_prompt))
        except VoicePromptError:
            return False
        return True

    def create_voice_prompt(self, audio: bytes, reference_text: str) -> dict[str, Any]:
        samples, rate = read_audio(audio)
        return self.backend.create_voice_prompt(samples, rate, reference_text)

    def generate(
        self, text: str, voice_prompt: Mapping[str, Any], language: str, seed: int | None
    ) -> GenerateResponse:
        voice = self.backend.parse_voice_prompt(dict(voice_prompt))
        (synthesis,) = self.backend.generate([GenerateJob(text, voice, language, seed)])
        return encode_response(synthesis.samples, synthesis.sample_rate)
