"""The streamed and WAV answers of /v1/generate (SPEC.md §14): negotiation, 406, framing,
errors before and after the first byte, a reader that leaves or stalls."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import numpy as np
import pytest

from reference_server.app import create_app
from reference_server.backends.base import BackendError, GenerateJob, Synthesis
from reference_server.negotiation import negotiate
from reference_server.streaming import FrameChannel, ReaderStalledError
from tests.server.conftest import Harness, HarnessFactory, make_config, serve
from tests.server.fakes import ProbeBackend
from voicebox_api import (
    JSON_MEDIA_TYPE,
    STREAM_MEDIA_TYPE,
    WAV_MEDIA_TYPE,
    ErrorBody,
    InBandError,
    ProviderClient,
    StreamAudio,
    StreamDecoder,
    decode_response,
    decode_wav,
)

TEXT = "One sentence. Another sentence! And a third one?"
OFFERED = [JSON_MEDIA_TYPE, WAV_MEDIA_TYPE, STREAM_MEDIA_TYPE]


class StreamingProbe(ProbeBackend):
    """Synthetic, streamed in ``pieces`` slices, each after ``piece_s``; can fail at a piece."""

    stream_granularity = "frame"

    def __init__(self, *, pieces: int = 4, piece_s: float = 0.0) -> None:
        super().__init__()
        self.pieces = pieces
        self.piece_s = piece_s
        self.fail_at: int | None = None
        self.produced = 0
        self.closed_early = threading.Event()

    def stream(self, job: GenerateJob) -> Iterator[Synthesis]:
        whole = super().generate([job])[0]
        finished = False
        try:
            for index, piece in enumerate(np.array_split(whole.samples, self.pieces)):
                if index == self.fail_at == 0:
                    raise BackendError("this piece cannot be spoken")
                if index == self.fail_at:
                    raise RuntimeError("the model fell over")
                time.sleep(self.piece_s)
                self.produced += 1
                yield Synthesis(samples=piece, sample_rate=whole.sample_rate)
            finished = True
        finally:
            if not finished:
                self.closed_early.set()


def _post(harness: Harness, accept: str | None, **body: Any) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    payload = {"text": TEXT, "voice_prompt": harness.prompt(), "seed": 3, **body}
    return harness.client.post("/v1/generate", json=payload, headers=headers)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON_MEDIA_TYPE),
        ("*/*", JSON_MEDIA_TYPE),
        ("application/json", JSON_MEDIA_TYPE),
        ("audio/*", WAV_MEDIA_TYPE),
        (f"{STREAM_MEDIA_TYPE}, application/json", STREAM_MEDIA_TYPE),
        (f"{STREAM_MEDIA_TYPE};q=0.5, application/json", JSON_MEDIA_TYPE),
        ("*/*;q=0.1, audio/wav", WAV_MEDIA_TYPE),
        ("application/json;q=0, audio/wav;q=0", None),
        ("text/html", None),
        ("nonsense;q=abc", None),
    ],
)
def test_negotiation_follows_q_values_then_exact_names(accept: str | None, chosen: str) -> None:
    assert negotiate(accept, OFFERED) == chosen


def test_a_backend_that_does_not_stream_says_so_and_refuses_streams_with_406(
    harness: Harness,
) -> None:
    capabilities = harness.client.get("/health").json()["capabilities"]
    assert capabilities["streaming"] is False
    assert capabilities["wav_audio"] is True
    for accept in (STREAM_MEDIA_TYPE, "text/html"):
        response = _post(harness, accept)
        assert response.status_code == 406
        assert ErrorBody.model_validate(response.json())
    assert "does not stream" in _post(harness, STREAM_MEDIA_TYPE).json()["detail"]
    assert harness.tts.batches == []  # refused before it took a queue slot


def test_the_wav_answer_holds_the_json_answers_samples(harness: Harness) -> None:
    as_json = decode_response_of(_post(harness, None))
    response = _post(harness, WAV_MEDIA_TYPE)
    assert response.headers["content-type"] == WAV_MEDIA_TYPE
    as_wav = decode_wav(response.content)
    assert (as_wav.sample_rate, as_wav.dtype) == (as_json.sample_rate, as_json.dtype)
    assert as_wav.samples.tobytes() == as_json.samples.tobytes()


def decode_response_of(response: httpx.Response) -> Any:
    from voicebox_api import GenerateResponse

    assert response.status_code == 200, response.text
    return decode_response(GenerateResponse.model_validate_json(response.content))


def _decoded(response: httpx.Response) -> tuple[StreamDecoder, np.ndarray]:
    decoder = StreamDecoder()
    chunks = decoder.feed(response.content)
    decoder.finish()
    samples = np.concatenate([c.samples for c in chunks if isinstance(c, StreamAudio)])
    return decoder, samples


def test_a_seeded_stream_is_the_json_answer_in_frames(make_harness: HarnessFactory) -> None:
    harness = make_harness(tts=StreamingProbe(pieces=5))
    assert harness.client.get("/health").json()["capabilities"]["streaming"] is True
    response = _post(harness, STREAM_MEDIA_TYPE)
    assert response.status_code == 200
    assert response.headers["content-type"] == STREAM_MEDIA_TYPE
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-length" not in response.headers
    decoder, samples = _decoded(response)
    assert decoder.frames >= 7  # header, five pieces (or more frames), end
    assert samples.tobytes() == decode_response_of(_post(harness, None)).samples.tobytes()


def test_errors_before_the_first_byte_keep_their_status(make_harness: HarnessFactory) -> None:
    backend = StreamingProbe()
    harness = make_harness(tts=backend)
    assert _post(harness, STREAM_MEDIA_TYPE, text=" ").status_code == 422
    backend.fail_at = 0
    response = _post(harness, STREAM_MEDIA_TYPE)
    assert response.status_code == 422
    assert response.json()["code"] == "backend_rejected"


def test_a_failure_after_the_first_byte_is_an_error_frame(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    backend = StreamingProbe(pieces=4)
    backend.fail_at = 2
    harness = make_harness(tts=backend)
    response = _post(harness, STREAM_MEDIA_TYPE)
    assert response.status_code == 200
    with pytest.raises(InBandError, match=r"failed after [1-9][0-9]* samples") as caught:
        _decoded(response)
    assert caught.value.body.detail == "the generation failed"
    assert "fell over" not in response.text  # the internal reason stays in the log
    assert any("after its first byte" in r.getMessage() for r in caplog.records)


def test_a_reader_that_takes_nothing_stalls_the_worker_only_for_a_bounded_time() -> None:
    async def scenario() -> None:
        channel = FrameChannel(capacity=2, stall_limit_s=0.05)
        outcome: list[BaseException | bool] = []

        def worker() -> None:
            try:
                for _ in range(5):
                    channel.put(b"frame")
            except ReaderStalledError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(5)
        assert len(outcome) == 1
        assert isinstance(outcome[0], ReaderStalledError)
        assert await channel.get() == b"frame"  # what was buffered is bounded and still there

    anyio.run(scenario)


def test_a_closed_channel_tells_the_worker_to_stop() -> None:
    async def scenario() -> None:
        channel = FrameChannel(capacity=1)
        assert channel.put(b"a") is True
        channel.close()
        assert channel.put(b"b") is False
        assert await channel.get() is None

    anyio.run(scenario)


@pytest.mark.slow
def test_a_client_that_leaves_mid_stream_stops_the_generation_and_frees_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = StreamingProbe(pieces=200, piece_s=0.02)
    app = create_app(
        make_config(queue_size=1, workers=1),
        tts_factory=lambda: backend,
        transcriber_factory=lambda: None,
    )
    caplog.set_level(logging.INFO)
    with serve(app) as url, ProviderClient(url) as client:
        prompt = client.create_voice_prompt(_tone(), "a reference").voice_prompt
        received = 0
        for chunk in client.stream_generate(TEXT, prompt, seed=1):
            if isinstance(chunk, StreamAudio):
                received += 1
            if received == 2:
                break  # closes the response: the client leaves
        assert backend.closed_early.wait(5), "the generation went on without its reader"
        assert backend.produced < 50
        runtime = app.state.server.runtime
        deadline = time.monotonic() + 5
        while runtime.queue_states()["tts"].running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runtime.queue_states()["tts"].running == 0
        backend.pieces = 3
        assert len(list(client.stream_generate(TEXT, prompt, seed=1))) >= 5  # the worker serves
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    statuses = [r.getMessage() for r in caplog.records if '" 5' in r.getMessage()]
    assert not statuses


def _tone() -> bytes:
    from tests.server.fakes import tone_wav

    return tone_wav()
