"""``stream=true`` on /v1/audio/speech is real streaming (SPEC.md §15): PCM leaves as the backend
makes it, resampled to 24 kHz seamlessly, and a client that leaves stops the generation."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from orchestration.processes import wait_healthy
from reference_server.app import create_app
from reference_server.backends.base import GenerateJob, Synthesis
from reference_server.backends.registry import BackendUnavailableError, ensure_available
from reference_server.speech.formats import to_pcm16
from reference_server.speech.stream import Pcm24k
from tests.server.conftest import make_config
from tests.server.fakes import ProbeBackend

URL = "/v1/audio/speech"
TEXT = "One sentence. Another sentence. And a third one."
RATE = 22_050
GATE_S = 10.0


class GatedStreamer(ProbeBackend):
    """Streams one tone per sentence at 22.05 kHz; after the first it waits for ``gate``."""

    stream_granularity = "sentence"
    sample_rate = RATE

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.at_gate = threading.Event()
        self.finished = threading.Event()
        self.closed_early = threading.Event()
        self.produced = 0

    def generate(self, jobs: Sequence[GenerateJob]) -> list[Synthesis]:
        return [_joined(list(self._sentences(job))) for job in jobs]

    def stream(self, job: GenerateJob) -> Iterator[Synthesis]:
        done = False
        try:
            for index, piece in enumerate(self._sentences(job)):
                if index == 1:
                    self.at_gate.set()
                    assert self.gate.wait(GATE_S), "the test never opened the gate"
                self.produced += 1
                yield piece
            done = True
            self.finished.set()
        finally:
            if not done:
                self.closed_early.set()

    def _sentences(self, job: GenerateJob) -> Iterator[Synthesis]:
        rng = np.random.default_rng(job.seed)
        for number, sentence in enumerate(job.text.split(". ")):
            t = np.arange(len(sentence) * 700) / RATE
            tone = 0.3 * np.sin(2 * np.pi * (150 + 40 * number) * t)
            noise = rng.normal(0, 0.01, t.shape)
            yield Synthesis(samples=(tone + noise).astype(np.float32), sample_rate=RATE)


def _joined(pieces: list[Synthesis]) -> Synthesis:
    return Synthesis(np.concatenate([p.samples for p in pieces]), pieces[0].sample_rate)


@pytest.fixture
def gated() -> Iterator[tuple[TestClient, GatedStreamer]]:
    backend = GatedStreamer()
    app = create_app(
        make_config(queue_size=2, workers=1),
        tts_factory=lambda: backend,
        transcriber_factory=lambda: None,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_healthy(client, timeout_s=10)
        yield client, backend
        backend.gate.set()


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "tts-1", "input": TEXT, "voice": "alloy", "seed": 5, **fields}


def _whole_pcm(client: TestClient, backend: GatedStreamer) -> bytes:
    backend.gate.set()
    response = client.post(URL, json=_body(response_format="pcm"))
    assert response.status_code == 200, response.text
    return response.content


def test_the_first_pcm_leaves_before_the_clip_is_made_and_the_stream_is_the_file(
    gated: tuple[TestClient, GatedStreamer],
) -> None:
    client, backend = gated
    body = _body(response_format="pcm", stream=True, stream_format="audio")
    with client.stream("POST", URL, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/pcm"
        assert response.headers["x-accel-buffering"] == "no"
        chunks = response.iter_bytes()
        first = next(chunks)
        assert backend.at_gate.wait(5)  # one sentence made, the next one held back
        assert not backend.finished.is_set()
        backend.gate.set()
        streamed = first + b"".join(chunks)
    assert backend.finished.is_set()
    assert streamed == _whole_pcm(client, backend)


def test_sse_pcm_events_leave_as_made_and_join_to_the_file(
    gated: tuple[TestClient, GatedStreamer],
) -> None:
    client, backend = gated
    with client.stream("POST", URL, json=_body(response_format="pcm", stream_format="sse")) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert backend.at_gate.wait(5)  # one sentence made, the next one held back
        assert not backend.finished.is_set()
        backend.gate.set()
        events = [json.loads(x[6:]) for x in [first, *lines] if x.startswith("data: ")]
    assert [e["type"] for e in events[-2:]] == ["speech.audio.delta", "speech.audio.done"]
    joined = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert joined == _whole_pcm(client, backend)


def test_a_client_that_leaves_stops_the_generation(
    gated: tuple[TestClient, GatedStreamer],
) -> None:
    client, backend = gated
    body = _body(response_format="pcm", stream=True, stream_format="audio")
    with client.stream("POST", URL, json=body) as response:
        next(response.iter_bytes())
    backend.gate.set()  # the backend's next piece finds the reader gone
    assert backend.closed_early.wait(5), (backend.produced, backend.finished.is_set())
    assert backend.produced < 3
    assert _whole_pcm(client, backend)  # the worker is free again


def test_a_speed_change_streams_the_changed_clip(gated: tuple[TestClient, GatedStreamer]) -> None:
    client, backend = gated
    backend.gate.set()
    whole = client.post(URL, json=_body(response_format="pcm", speed=1.5))
    streamed = client.post(
        URL, json=_body(response_format="pcm", speed=1.5, stream=True, stream_format="audio")
    )
    assert streamed.status_code == 200
    assert streamed.content == whole.content


@pytest.mark.parametrize("rate", [22_050, 24_000, 16_000])
def test_chunkwise_resampling_is_the_one_shot_answer(rate: int) -> None:
    samples = np.random.default_rng(rate).uniform(-0.6, 0.6, rate * 2).astype(np.float32)
    pcm = Pcm24k(rate)
    pieces = np.split(samples, [7, 1000, 1001, 20_000])
    streamed = b"".join(pcm.push(piece) for piece in pieces) + pcm.flush()
    assert streamed == to_pcm16(samples, rate)


def _espeak_missing() -> bool:
    try:
        ensure_available("espeak")
    except BackendUnavailableError:
        return True
    return False


@pytest.mark.slow
@pytest.mark.skipif(_espeak_missing(), reason="the espeak backend is not installed")
def test_espeak_streams_sentences_that_join_to_the_seeded_pcm_file() -> None:
    from reference_server.backends.espeak.backend import EspeakBackend

    app = create_app(
        make_config(backend="espeak"), tts_factory=EspeakBackend, transcriber_factory=lambda: None
    )
    with TestClient(app) as client:
        wait_healthy(client, timeout_s=60)
        body = {**_body(response_format="pcm"), "seed": 11}
        whole = client.post(URL, json=body)
        assert whole.status_code == 200, whole.text
        streamed = {**body, "stream": True, "stream_format": "audio"}
        with client.stream("POST", URL, json=streamed) as response:
            chunks = list(response.iter_bytes())
    assert len(chunks) >= 3  # at least one chunk per sentence
    assert b"".join(chunks) == whole.content
