"""Uploads: limits enforced while streaming, filenames never used, concurrent uploads isolated."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from reference_server.app import create_app
from reference_server.uploads import FORM_OVERHEAD_BYTES
from tests.server.conftest import Harness, make_config, serve
from tests.server.fakes import ProbeBackend, tone_wav
from voicebox_api import write_audio


def _files_named(marker: str) -> list[Path]:
    found: list[Path] = []
    for root in {Path(tempfile.gettempdir()), Path("/tmp"), Path.cwd()}:
        for path in root.rglob(f"*{marker}*"):
            found.append(path)
    return found


@pytest.mark.parametrize(
    "template",
    [
        "../../missing-dir/{m}.wav",
        "../../../../../../tmp/{m}.wav",
        "/tmp/{m}.wav",
        "..\\..\\{m}.wav",
        "C:\\temp\\{m}.wav",
        "{m}\u202e.wav",
        "{m}" + "x" * 300 + ".wav",
    ],
)
def test_a_path_as_filename_is_processed_like_any_other(harness: Harness, template: str) -> None:
    marker = f"vbx-{uuid.uuid4().hex[:12]}"
    response = harness.client.post(
        "/v1/create_voice_prompt",
        files={"audio": (template.format(m=marker), tone_wav(seconds=1.5), "audio/wav")},
    )
    assert response.status_code == 200, response.text
    assert marker not in response.text
    assert _files_named(marker) == []


def test_the_format_is_sniffed_not_taken_from_the_name(harness: Harness) -> None:
    flac = tone_wav(fmt="flac")
    response = harness.client.post(
        "/v1/create_voice_prompt", files={"audio": ("voice.mp3", flac, "audio/mpeg")}
    )
    assert response.status_code == 200
    wav_named_text = harness.client.post(
        "/v1/create_voice_prompt", files={"audio": ("notes.txt", tone_wav(), "text/plain")}
    )
    assert wav_named_text.status_code == 200


def test_concurrent_uploads_with_one_name_each_get_their_own_prompt() -> None:
    """CON-2, against a real server: eight uploads named alike, each with its own pitch; big
    enough (over 1 MiB) that the form parser spools them to temporary files."""
    app = create_app(
        make_config(workers=2),
        tts_factory=ProbeBackend,
        transcriber_factory=lambda: None,
    )
    marker = f"vbx-{uuid.uuid4().hex[:12]}"
    pitches = [110.0 + 25.0 * i for i in range(8)]
    uploads = [tone_wav(frequency=f, seconds=30.0) for f in pitches]
    assert all(len(upload) > 1024 * 1024 for upload in uploads)
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:

        def upload(data: bytes) -> float:
            response = client.post(
                "/v1/create_voice_prompt",
                files={"audio": (f"../{marker}.wav", data, "audio/wav")},
            )
            assert response.status_code == 200, response.text
            return float(response.json()["voice_prompt"]["f0_hz"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            found = list(pool.map(upload, uploads))
    assert found == pytest.approx(pitches, abs=3.0)
    assert _files_named(marker) == []


def test_a_ten_mib_upload_is_accepted(harness: Harness) -> None:
    """VP-6: 10 MiB of 16-bit mono at 48 kHz, about 109 s."""
    seconds = 10 * 1024 * 1024 / 2 / 48_000
    t = np.arange(int(seconds * 48_000)) / 48_000
    wav = write_audio(0.3 * np.sin(2 * np.pi * 150.0 * t), 48_000)
    assert len(wav) >= 10 * 1024 * 1024
    response = harness.client.post(
        "/v1/create_voice_prompt", files={"audio": ("big.wav", wav, "audio/wav")}
    )
    assert response.status_code == 200, response.text


class _CountingBody:
    """A chunked multipart body of ``total`` bytes that counts how much the server pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        head = (
            b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n"
        )
        self.sent += len(head)
        yield head
        chunk = os.urandom(64 * 1024)
        while self.sent < self.total:
            self.sent += len(chunk)
            yield chunk
        yield b"\r\n--b--\r\n"


class _ReceiveCounter:
    """An ASGI wrapper that counts the body bytes the app pulled through ``receive``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pulled = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            self.pulled += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


def test_a_chunked_upload_is_refused_once_it_passes_the_limit() -> None:
    """No Content-Length: the body is counted as it arrives and refused at the limit. (uvicorn
    then discards the rest of the body without keeping it, so that the client reads the 413.)"""
    limit = 200_000
    app = create_app(
        make_config(max_upload_bytes=limit),
        tts_factory=ProbeBackend,
        transcriber_factory=lambda: None,
    )
    counter = _ReceiveCounter(app)
    body = _CountingBody(total=64 * 1024 * 1024)
    with serve(counter) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(
            "/v1/create_voice_prompt",
            content=iter(body),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert response.status_code == 413
        assert response.json()["code"] == "body_too_large"
        assert client.get("/health").status_code == 200
    body_limit = limit + FORM_OVERHEAD_BYTES
    assert body_limit < counter.pulled <= body_limit + 256 * 1024


def test_a_declared_oversize_body_is_refused_before_it_is_read() -> None:
    app = create_app(
        make_config(max_upload_bytes=100_000),
        tts_factory=ProbeBackend,
        transcriber_factory=lambda: None,
    )
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(
            "/v1/create_voice_prompt",
            files={"audio": ("a.wav", os.urandom(3_000_000), "audio/wav")},
        )
        assert response.status_code == 413
        assert response.json()["code"] == "body_too_large"
        assert response.headers["x-served-by"]


def test_decoding_runs_off_the_event_loop(harness: Harness, monkeypatch: Any) -> None:
    import threading

    from voicebox_api import _audiofile as audiofile

    threads: list[str] = []
    real = audiofile.read_audio

    def spy(data: bytes, **limits: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(data, **limits)

    monkeypatch.setattr("reference_server.uploads.read_audio", spy)
    harness.prompt()
    assert threads
    assert threads[0] != "MainThread"
    # and prompt creation runs on the inference worker, not the loop
    assert harness.tts.prompt_threads[-1].startswith("tts-")
