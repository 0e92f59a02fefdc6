"""Hostile traffic, in-process: overload is refused before its body is read, decompression
bombs are refused from the header, slow bodies are cut off, a hang-up is one INFO line."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from fastapi import FastAPI

from reference_server.app import create_app
from tests.server.conftest import make_config
from tests.server.fakes import FakeTranscriber, ProbeBackend, tone_wav

Run = Callable[[httpx.AsyncClient, FastAPI], Awaitable[None]]


@asynccontextmanager
async def _client(**config: Any) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_app(
        make_config(**config), tts_factory=ProbeBackend, transcriber_factory=FakeTranscriber
    )
    async with app.router.lifespan_context(app):
        await app.state.server.runtime.wait_ready()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client, app


def _run(test: Run, timeout_s: float = 20.0, **config: Any) -> None:
    async def main() -> None:
        async with _client(**config) as (client, app):
            await asyncio.wait_for(test(client, app), timeout_s)

    asyncio.run(main())


class HangingBody:
    """A request body that sends nothing until released; records whether it was read."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.read.set()
        await self.release.wait()
        yield self.body


def _multipart(audio: bytes, field: str = "audio") -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://t/", files={field: ("a.wav", audio, "audio/wav")})
    return request.read(), request.headers["content-type"]


# --- 1. admission control -------------------------------------------------------------------


def test_overload_is_refused_before_its_body_is_read_and_recovers_at_once() -> None:
    async def test(client: httpx.AsyncClient, app: FastAPI) -> None:
        prompt = (
            await client.post(
                "/v1/create_voice_prompt", files={"audio": ("a.wav", tone_wav(), "audio/wav")}
            )
        ).json()["voice_prompt"]
        body = httpx.Request("POST", "http://t/", json={"text": "hi", "voice_prompt": prompt})
        payload = body.read()
        headers = {"content-type": "application/json"}
        # Capacity is queue (1) + running (1 worker x batch 1) + slack (0): two admitted.
        holders = [HangingBody(payload) for _ in range(2)]
        tasks = [
            asyncio.create_task(client.post("/v1/generate", content=h, headers=headers))
            for h in holders
        ]
        for holder in holders:
            await holder.read.wait()
        extra = HangingBody(payload)
        extra.release.set()
        refused = await client.post("/v1/generate", content=extra, headers=headers)
        assert refused.status_code == 503
        assert refused.json()["code"] == "overloaded"
        assert int(refused.headers["retry-after"]) >= 1
        assert not extra.read.is_set(), "the refused request's body was read"
        for holder, task in zip(holders, tasks, strict=True):
            holder.release.set()
            assert (await task).status_code == 200
        # Recovery is immediate: nothing is left admitted.
        again = await client.post("/v1/generate", content=payload, headers=headers)
        assert again.status_code == 200

    _run(test, queue_size=1, workers=1, max_batch_size=1, admission_slack=0)


def test_uploads_share_the_transcription_pool() -> None:
    async def test(client: httpx.AsyncClient, app: FastAPI) -> None:
        payload, content_type = _multipart(tone_wav())
        holders = [HangingBody(payload) for _ in range(2)]
        tasks = [
            asyncio.create_task(
                client.post("/v1/transcribe", content=h, headers={"content-type": content_type})
            )
            for h in holders
        ]
        for holder in holders:
            await holder.read.wait()
        refused = await client.post(
            "/v1/audio/transcriptions",
            files={"file": ("a.wav", tone_wav(), "audio/wav")},
            data={"model": "whisper-1"},
        )
        assert refused.status_code == 503
        assert "error" in refused.json()  # OpenAI's envelope on OpenAI's path
        assert "retry-after" in refused.headers
        for holder, task in zip(holders, tasks, strict=True):
            holder.release.set()
            assert (await task).status_code == 200

    _run(test, queue_size=1, admission_slack=0)


# --- 2. decompression bombs -------------------------------------------------------------------


def silent_flac(seconds: float, rate: int = 192_000, channels: int = 2) -> bytes:
    """Long silence compresses to almost nothing and decodes to frames x channels samples."""
    buffer = io.BytesIO()
    block = np.zeros((rate, channels), dtype=np.int16)
    with sf.SoundFile(
        buffer, "w", samplerate=rate, channels=channels, format="FLAC", subtype="PCM_16"
    ) as out:
        whole, part = divmod(seconds, 1.0)
        for _ in range(int(whole)):
            out.write(block)
        out.write(block[: int(part * rate)])
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/create_voice_prompt", "audio"),
        ("/v1/transcribe", "audio"),
        ("/v1/audio/transcriptions", "file"),
    ],
)
def test_a_decompression_bomb_is_refused_from_its_header(path: str, field: str) -> None:
    bomb = silent_flac(4.0)  # 1.5 M samples: 6 MB decoded, from a few kB
    assert len(bomb) < 64 * 1024

    async def test(client: httpx.AsyncClient, app: FastAPI) -> None:
        decoded: list[int] = []
        transcriber: FakeTranscriber = app.state.server.runtime.transcriber
        response = await client.post(
            path, files={field: ("a.flac", bomb, "audio/flac")}, data={"model": "whisper-1"}
        )
        decoded.extend(call["samples"] for call in transcriber.calls)
        assert response.status_code == 413, response.text
        assert not decoded
        assert "samples" in response.text

    _run(test, max_decoded_bytes=1024 * 1024)


def test_a_header_that_understates_its_length_is_still_capped() -> None:
    from voicebox_api import AudioTooLargeError, read_audio

    wav = tone_wav(seconds=1.0, rate=16_000)
    with pytest.raises(AudioTooLargeError):
        read_audio(wav, max_samples=8_000)
    samples, _ = read_audio(wav, max_samples=16_000)
    assert samples.shape == (16_000,)


# --- 3. slow bodies ---------------------------------------------------------------------------


def test_a_slow_upload_is_cut_off_and_frees_its_slot() -> None:
    async def test(client: httpx.AsyncClient, app: FastAPI) -> None:
        payload, content_type = _multipart(tone_wav())
        headers = {"content-type": content_type}
        stalled = [HangingBody(payload) for _ in range(2)]
        answers = await asyncio.gather(
            *(client.post("/v1/transcribe", content=h, headers=headers) for h in stalled)
        )
        assert [a.status_code for a in answers] == [408, 408]
        assert answers[0].json()["code"] == "body_timeout"
        assert app.state.server.uploads.active == 0
        ok = await client.post("/v1/transcribe", content=payload, headers=headers)
        assert ok.status_code == 200, ok.text

    _run(test, max_concurrent_uploads=2, body_timeout_s=0.3)


def test_a_trickle_below_the_minimum_rate_is_cut_off() -> None:
    async def test(client: httpx.AsyncClient, app: FastAPI) -> None:
        payload, content_type = _multipart(tone_wav())

        async def trickle() -> AsyncIterator[bytes]:
            for index in range(len(payload)):
                yield payload[index : index + 1]
                await asyncio.sleep(0.05)

        answer = await client.post(
            "/v1/transcribe", content=trickle(), headers={"content-type": content_type}
        )
        assert answer.status_code == 408

    from reference_server import bodytimeout

    original = bodytimeout.GRACE_S
    bodytimeout.GRACE_S = 0.2
    try:
        _run(test, min_body_rate_bytes=1000)
    finally:
        bodytimeout.GRACE_S = original


# --- 5. a hang-up mid-upload ------------------------------------------------------------------


def test_a_client_hanging_up_mid_upload_is_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    payload, content_type = _multipart(tone_wav())

    async def main() -> None:
        async with _client() as (_, app):
            messages = [
                {"type": "http.request", "body": payload[:100], "more_body": True},
                {"type": "http.disconnect"},
            ]
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return messages.pop(0) if messages else {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/v1/transcribe",
                "raw_path": b"/v1/transcribe",
                "query_string": b"",
                "root_path": "",
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(payload)).encode()),
                ],
                "client": ("127.0.0.1", 1),
                "server": ("t", 80),
            }
            await app(scope, receive, send)
            assert app.state.server.uploads.active == 0

    with caplog.at_level(logging.INFO):
        asyncio.run(main())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    lines = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
    assert lines[0].exc_info is None
