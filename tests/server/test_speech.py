"""POST /v1/audio/speech as OpenAI documents it, with vLLM-Omni's cloning fields (SPEC.md §15)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
from typing import Any

import av
import numpy as np
import pytest

from reference_server.errors import ApiError
from reference_server.speech.clones import ClonedPrompts
from reference_server.speech.refaudio import data_url_bytes
from reference_server.speech.tempo import change_speed
from tests.server.conftest import Harness, HarnessFactory
from tests.server.fakes import tone_wav
from voicebox_api import OpenAIErrorEnvelope, SpeechAudioDeltaEvent, SpeechAudioDoneEvent

URL = "/v1/audio/speech"
CONTAINERS = {"mp3": "mp3", "opus": "ogg", "aac": "aac", "flac": "flac", "wav": "wav"}


def _post(harness: Harness, **fields: Any) -> Any:
    body = {"model": "tts-1", "input": "Hello there, this is a test.", "voice": "alloy", **fields}
    return harness.client.post(URL, json=body)


def _envelope(response: Any, status: int, param: str | None) -> None:
    assert response.status_code == status, response.text
    error = OpenAIErrorEnvelope.model_validate_json(response.content).error
    assert error.message
    assert error.param == param


def _decoded_seconds(data: bytes) -> tuple[str, float]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return container.format.name, samples / stream.rate


@pytest.mark.parametrize("fmt", sorted(CONTAINERS))
def test_each_format_decodes_as_itself(harness: Harness, fmt: str) -> None:
    response = _post(harness, response_format=fmt)
    assert response.status_code == 200, response.text
    container, seconds = _decoded_seconds(response.content)
    assert CONTAINERS[fmt] in container.split(",")
    assert seconds > 0.1


def test_mp3_is_the_default(harness: Harness) -> None:
    response = _post(harness)
    assert response.headers["content-type"] == "audio/mpeg"


def test_pcm_is_24k_s16le_and_streams_the_same_bytes(harness: Harness) -> None:
    whole = _post(harness, response_format="pcm", seed=3)
    wav = _post(harness, response_format="wav", seed=3)
    streamed = _post(harness, response_format="pcm", stream=True, stream_format="audio", seed=3)
    assert len(whole.content) % 2 == 0
    assert streamed.content == whole.content
    _, wav_seconds = _decoded_seconds(wav.content)
    assert len(whole.content) / 2 / 24000 == pytest.approx(wav_seconds, rel=0.05)


def test_sse_events_join_to_the_file(harness: Harness) -> None:
    response = _post(harness, response_format="wav", stream_format="sse", seed=3)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line[len("data: ") :])
        for line in response.text.splitlines()
        if line.startswith("data: ")
    ]
    deltas = [SpeechAudioDeltaEvent.model_validate(e) for e in events[:-1]]
    SpeechAudioDoneEvent.model_validate(events[-1])
    joined = b"".join(base64.b64decode(d.audio) for d in deltas)
    assert joined == _post(harness, response_format="wav", seed=3).content


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"input": ""}, "input"),
        ({"input": "   "}, "input"),
        ({"voice": "nobody"}, "voice"),
        ({"response_format": "ogg"}, "response_format"),
        ({"speed": 4.5}, "speed"),
        ({"speed": 0.1}, "speed"),
        ({"stream": True, "response_format": "mp3"}, "stream"),
        ({"ref_audio": "https://example.com/voice.wav"}, "ref_audio"),
        ({"ref_audio": "file:///etc/passwd"}, "ref_audio"),
        ({"ref_audio": "data:audio/wav;base64,not base64!"}, "ref_audio"),
        (
            {"ref_audio": "data:audio/wav;base64," + base64.b64encode(b"noise").decode()},
            "ref_audio",
        ),
        ({"language": "Klingon"}, "language"),
    ],
)
def test_bad_input_is_400_in_the_envelope(
    harness: Harness, fields: dict[str, Any], param: str
) -> None:
    _envelope(_post(harness, **fields), 400, param)


def test_a_url_is_never_fetched(harness: Harness) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        _envelope(_post(harness, ref_audio=f"http://127.0.0.1:{port}/v.wav"), 400, "ref_audio")
        with pytest.raises(TimeoutError):
            listener.accept()


def test_cloning_from_a_data_url(harness: Harness) -> None:
    url = "data:audio/wav;base64," + base64.b64encode(tone_wav()).decode()
    response = _post(harness, response_format="wav", ref_audio=url, ref_text="a tone")
    assert response.status_code == 200, response.text


def test_oversize_ref_audio_is_413(make_harness: HarnessFactory) -> None:
    harness = make_harness(max_upload_bytes=10 * 1024 * 1024)
    url = "data:audio/wav;base64," + base64.b64encode(bytes(10 * 1024 * 1024 + 1)).decode()
    _envelope(_post(harness, ref_audio=url), 413, "ref_audio")


def test_the_key_is_a_bearer_token(make_harness: HarnessFactory) -> None:
    harness = make_harness(api_key="sekrit")
    response = harness.client.post(
        URL, json={"model": "m", "input": "Hi.", "voice": "alloy"}, headers={"X-API-Key": "no"}
    )
    _envelope(response, 401, None)
    good = harness.client.post(
        URL,
        json={"model": "m", "input": "Hi.", "voice": "alloy"},
        headers={"Authorization": "Bearer sekrit"},
    )
    assert good.status_code == 200


def test_capabilities_declare_the_endpoint(harness: Harness) -> None:
    assert harness.client.get("/health").json()["capabilities"]["openai_speech"] is True


def test_data_url_parsing() -> None:
    assert data_url_bytes("data:audio/wav;base64," + base64.b64encode(b"abc").decode(), limit=3)
    with pytest.raises(ApiError) as too_big:
        data_url_bytes("data:;base64," + base64.b64encode(b"abcd").decode(), limit=3)
    assert too_big.value.status == 413
    with pytest.raises(ApiError):
        data_url_bytes("data:audio/wav,rawtext", limit=100)


def test_speed_changes_duration_not_rate() -> None:
    tone = np.sin(np.arange(24000) / 24000 * 2 * np.pi * 200).astype(np.float32)
    assert change_speed(tone, 24000, 2.0).size == pytest.approx(12000, rel=0.05)
    assert change_speed(tone, 24000, 0.25).size == pytest.approx(96000, rel=0.05)


def test_cloned_prompts_are_remembered_by_digest() -> None:
    clones = ClonedPrompts(capacity=2)
    made: list[str] = []

    async def run() -> None:
        for audio in (b"a", b"a", b"b", b"c", b"a"):

            async def make(audio: bytes = audio) -> dict[str, Any]:
                made.append(audio.decode())
                return {"from": audio.decode()}

            prompt = await clones.get_or_make(ClonedPrompts.key(audio, "text"), make)
            assert prompt == {"from": audio.decode()}

    asyncio.run(run())
    assert made == ["a", "b", "c", "a"]
    assert ClonedPrompts.key(b"a", "x") != ClonedPrompts.key(b"a", "y")
