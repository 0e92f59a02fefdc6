"""The official ``openai`` SDK against the reference server's OpenAI-compatible endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reference_server.app import create_app
from tests.server.conftest import make_config, serve
from tests.server.fakes import FakeTranscriber, ProbeBackend, tone_wav

openai = pytest.importorskip("openai")

KEY = "sdk-test-key"


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    app = create_app(
        make_config(api_key=KEY),
        tts_factory=ProbeBackend,
        transcriber_factory=FakeTranscriber,
    )
    with serve(app) as url:
        sdk = openai.OpenAI(api_key=KEY, base_url=f"{url}/v1", max_retries=0, timeout=30)
        yield sdk
        sdk.close()


def test_the_sdk_transcribes(client: object) -> None:
    result = client.audio.transcriptions.create(  # type: ignore[attr-defined]
        model="whisper-1", file=("clip.wav", tone_wav(seconds=1.0), "audio/wav")
    )
    assert result.text == "hello world"


def test_an_undecodable_file_raises_bad_request(client: object) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.audio.transcriptions.create(  # type: ignore[attr-defined]
            model="whisper-1", file=("notes.wav", b"not audio at all\n" * 20, "audio/wav")
        )
    assert raised.value.status_code == 400
    assert raised.value.body["type"] == "invalid_request_error"
