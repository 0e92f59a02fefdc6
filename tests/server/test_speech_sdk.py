"""The official ``openai`` SDK against the reference server's /v1/audio/speech (SPEC.md §15)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator

import openai
import pytest
import soundfile as sf

from reference_server.app import create_app
from tests.server.conftest import make_config, serve
from tests.server.fakes import ProbeBackend

pytestmark = pytest.mark.slow

KEY = "sdk-test-key"


@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    backend = ProbeBackend()
    app = create_app(
        make_config(api_key=KEY), tts_factory=lambda: backend, transcriber_factory=lambda: None
    )
    with serve(app) as url, openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


def test_create_returns_a_wav_file(client: openai.OpenAI) -> None:
    audio = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Hello from the SDK.", response_format="wav"
    )
    samples, rate = sf.read(io.BytesIO(audio.content))
    assert rate > 0
    assert len(samples) > rate // 10


def test_a_voice_by_id_and_the_default_format(client: openai.OpenAI) -> None:
    audio = client.audio.speech.create(model="tts-1", voice={"id": "echo"}, input="Hello.")
    assert audio.response.headers["content-type"] == "audio/mpeg"
    assert audio.content


def test_streaming_pcm(client: openai.OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="tts-1",
        voice="alloy",
        input="Streaming through the SDK.",
        response_format="pcm",
        extra_body={"stream": True},
        stream_format="audio",
    ) as response:
        chunks = list(response.iter_bytes())
    data = b"".join(chunks)
    assert len(data) % 2 == 0
    assert data


def test_sse_events(client: openai.OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Events.", response_format="pcm", stream_format="sse"
    ) as response:
        events = [
            json.loads(line[len("data: ") :])
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]
    assert [e["type"] for e in events][-1] == "speech.audio.done"
    assert all(e["type"] == "speech.audio.delta" for e in events[:-1])
    assert b"".join(base64.b64decode(e["audio"]) for e in events[:-1])


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"voice": "nobody"}, "voice"),
        ({"input": ""}, "input"),
        ({"speed": 9.0}, "speed"),
        ({"extra_body": {"ref_audio": "http://169.254.169.254/latest/meta-data"}}, "ref_audio"),
    ],
)
def test_bad_input_raises_bad_request(
    client: openai.OpenAI, fields: dict[str, object], param: str
) -> None:
    body: dict[str, object] = {"model": "tts-1", "voice": "alloy", "input": "Hi.", **fields}
    with pytest.raises(openai.BadRequestError) as raised:
        client.audio.speech.create(**body)  # type: ignore[arg-type]
    assert raised.value.status_code == 400
    assert raised.value.param == param


def test_a_wrong_key_raises_authentication_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        client.with_options(api_key="wrong").audio.speech.create(
            model="tts-1", voice="alloy", input="Hi."
        )
