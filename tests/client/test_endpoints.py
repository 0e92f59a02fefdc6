"""Every endpoint, sync and async, against an in-process fake provider: the request the client
sends (URL with prefix, credentials, body built by the models) and the typed result."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from tests.client.conftest import (
    SAMPLES,
    Harness,
    Recorder,
    form_fields,
    generate_body,
    json_body,
    json_response,
    settings,
)
from voicebox_api import (
    USER_AGENT,
    WRONG_API_KEY,
    OpenAITranscription,
    OpenAIVerboseTranscription,
    audio_content_type,
    write_audio,
)

WAV = write_audio(np.zeros(800, dtype=np.float32) + 0.1, 16000)
HEALTH = {"status": "healthy", "model": "m", "device": "cpu", "api_version": "0.2"}


def test_health(harness: Harness) -> None:
    fake = Recorder(json_response(200, HEALTH))
    result = harness.call(fake, "health")
    assert result.body.status == "healthy"
    assert result.ready
    assert result.response.status_code == 200
    (request,) = fake.requests
    assert (request.method, str(request.url)) == ("GET", "http://provider.test:8000/prefix/health")
    assert request.headers["user-agent"] == USER_AGENT


def test_health_returns_a_loading_503_instead_of_raising_or_retrying(harness: Harness) -> None:
    body = {**HEALTH, "status": "loading"}
    fake = Recorder(json_response(503, body, {"Retry-After": "3"}))
    result = harness.call(fake, "health")
    assert result.body.status == "loading"
    assert not result.ready
    assert len(fake.requests) == 1
    assert harness.sleeps == []


def test_create_voice_prompt_sends_multipart(harness: Harness) -> None:
    fake = Recorder(json_response(200, {"voice_prompt": {"id": "v1", "x": [1, 2]}}))
    result = harness.call(fake, "create_voice_prompt", WAV, "Hello, reference.")
    assert result.voice_prompt == {"id": "v1", "x": [1, 2]}
    assert result.body.voice_prompt == result.voice_prompt
    (request,) = fake.requests
    assert str(request.url) == "http://provider.test:8000/prefix/v1/create_voice_prompt"
    fields = form_fields(request)
    assert fields["audio"] == ("reference.wav", "audio/wav", WAV)
    assert fields["reference_text"] == (None, None, b"Hello, reference.")


def test_create_voice_prompt_takes_filename_and_content_type(harness: Harness) -> None:
    fake = Recorder(json_response(200, {"voice_prompt": {}}))
    harness.call(
        fake, "create_voice_prompt", b"\x00\x01", filename="x.bin", content_type="audio/flac"
    )
    assert form_fields(fake.requests[0])["audio"] == ("x.bin", "audio/flac", b"\x00\x01")


def test_generate_sends_the_json_body_and_decodes_audio(harness: Harness) -> None:
    fake = Recorder(json_response(200, generate_body()))
    result = harness.call(fake, "generate", "Hi there.", {"id": "v1"}, language="de", seed=7)
    (request,) = fake.requests
    assert str(request.url) == "http://provider.test:8000/prefix/v1/generate"
    assert request.headers["content-type"] == "application/json"
    assert json_body(request) == {
        "text": "Hi there.",
        "voice_prompt": {"id": "v1"},
        "language": "de",
        "seed": 7,
    }
    assert result.audio.sample_rate == 24000
    assert result.audio.dtype == "float32"
    np.testing.assert_array_equal(result.audio.samples, SAMPLES)
    assert result.body.sample_rate == 24000
    assert result.response.status_code == 200


def test_generate_defaults(harness: Harness) -> None:
    fake = Recorder(json_response(200, generate_body()))
    harness.call(fake, "generate", "Hi.", {})
    assert json_body(fake.requests[0]) == {
        "text": "Hi.",
        "voice_prompt": {},
        "language": "en",
        "seed": None,
    }


@pytest.mark.parametrize(
    ("text", "language", "seed"),
    [("", "en", None), ("   ", "en", None), ("ok", "English", None), ("ok", "en", -1)],
)
def test_generate_refuses_invalid_arguments_before_sending(
    harness: Harness, text: str, language: str, seed: int | None
) -> None:
    fake = Recorder(json_response(200, generate_body()))
    with pytest.raises(ValidationError):
        harness.call(fake, "generate", text, {}, language=language, seed=seed)
    assert fake.requests == []


def test_transcribe_goes_to_the_whisper_server(harness: Harness) -> None:
    fake = Recorder(json_response(200, {"text": "hello world"}))
    options = {"settings": settings(whisper_remote_url="http://whisper.test:9000")}
    result = harness.call(fake, "transcribe", WAV, "en", client_options=options)
    assert result.text == "hello world"
    assert result.body.text == "hello world"
    (request,) = fake.requests
    assert str(request.url) == "http://whisper.test:9000/v1/transcribe"
    fields = form_fields(request)
    assert fields["audio"] == ("audio.wav", "audio/wav", WAV)
    assert fields["language"] == (None, None, b"en")


def test_transcribe_without_language_sends_no_field(harness: Harness) -> None:
    fake = Recorder(json_response(200, {"text": ""}))
    harness.call(fake, "transcribe", WAV)
    assert str(fake.requests[0].url) == "http://provider.test:8000/prefix/v1/transcribe"
    assert set(form_fields(fake.requests[0])) == {"audio"}


def test_transcriptions_json(harness: Harness) -> None:
    fake = Recorder(json_response(200, {"text": "hello"}))
    options = {"settings": settings(openai_api_key="sk-test")}
    result = harness.call(
        fake,
        "transcriptions",
        WAV,
        language="en",
        prompt="Greeting.",
        temperature=0.2,
        client_options=options,
    )
    assert result.text == "hello"
    assert isinstance(result.body, OpenAITranscription)
    (request,) = fake.requests
    assert str(request.url) == "http://openai.test/v1/audio/transcriptions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert "x-api-key" not in request.headers
    fields = form_fields(request)
    assert fields["file"] == ("audio.wav", "audio/wav", WAV)
    assert {name: value[2] for name, value in fields.items() if name != "file"} == {
        "model": b"whisper-1",
        "response_format": b"json",
        "language": b"en",
        "prompt": b"Greeting.",
        "temperature": b"0.2",
    }


def test_transcriptions_verbose_json_with_granularities(harness: Harness) -> None:
    verbose = {
        "task": "transcribe",
        "language": "english",
        "duration": 1.5,
        "text": "hello",
        "segments": [{"id": 0, "start": 0.0, "end": 1.5, "text": "hello"}],
    }
    fake = Recorder(json_response(200, verbose))
    result = harness.call(
        fake,
        "transcriptions",
        WAV,
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert isinstance(result.body, OpenAIVerboseTranscription)
    assert result.text == "hello"
    assert result.body.duration == 1.5
    body = fake.requests[0].read()
    assert body.count(b'name="timestamp_granularities[]"') == 2


@pytest.mark.parametrize("response_format", ["text", "srt", "vtt"])
def test_transcriptions_text_formats_return_the_document(
    harness: Harness, response_format: str
) -> None:
    document = "WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n"
    fake = Recorder(httpx.Response(200, text=document))
    result = harness.call(fake, "transcriptions", WAV, response_format=response_format)
    assert result.text == document
    assert result.body is None
    assert result.response_format == response_format


def test_transcriptions_refuse_invalid_arguments(harness: Harness) -> None:
    fake = Recorder(json_response(200, {"text": ""}))
    with pytest.raises(ValidationError):
        harness.call(fake, "transcriptions", WAV, response_format="mp3")
    with pytest.raises(ValidationError):
        harness.call(fake, "transcriptions", WAV, temperature=1.5)
    assert fake.requests == []


@pytest.mark.parametrize("method", ["health", "generate", "create_voice_prompt", "transcribe"])
def test_voicebox_endpoints_send_the_key_as_x_api_key(harness: Harness, method: str) -> None:
    bodies = {
        "health": HEALTH,
        "generate": generate_body(),
        "create_voice_prompt": {"voice_prompt": {}},
        "transcribe": {"text": ""},
    }
    fake = Recorder(json_response(200, bodies[method]))
    args: tuple[object, ...] = {"generate": ("Hi.", {}), "health": ()}.get(method, (WAV,))
    harness.call(fake, method, *args, client_options={"settings": settings(tts_api_key="k-1")})
    assert fake.requests[0].headers["x-api-key"] == "k-1"
    assert "authorization" not in fake.requests[0].headers


def test_the_tts_key_does_not_travel_to_a_separate_whisper_server(harness: Harness) -> None:
    fake = Recorder(json_response(200, {"text": ""}))
    s = settings(tts_api_key="k-1", whisper_remote_url="http://elsewhere:9000")
    harness.call(fake, "transcribe", WAV, client_options={"settings": s})
    assert "x-api-key" not in fake.requests[0].headers


def test_no_key_configured_sends_no_credentials(harness: Harness) -> None:
    fake = Recorder(json_response(200, generate_body()))
    harness.call(fake, "generate", "Hi.", {})
    assert "x-api-key" not in fake.requests[0].headers
    assert "authorization" not in fake.requests[0].headers


def test_every_attempt_is_observed(harness: Harness) -> None:
    fake = Recorder(json_response(200, generate_body()))
    harness.call(fake, "generate", "Hi.", {})
    (exchange,) = harness.exchanges
    assert exchange.endpoint == "generate"
    assert exchange.attempt == 1
    assert exchange.request is fake.requests[0]
    assert exchange.response is not None
    assert exchange.response.status_code == 200
    assert exchange.error is None
    assert exchange.elapsed_s >= 0


# --- The low-level request() ---------------------------------------------------------------------


def test_request_returns_any_status_without_raising(harness: Harness) -> None:
    fake = Recorder(json_response(422, {"detail": "bad"}))
    response = harness.call(
        fake,
        "request",
        "POST",
        "v1/generate",
        content=b'{"text": ',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 422
    (request,) = fake.requests
    assert request.read() == b'{"text": '
    assert request.headers["content-type"] == "text/plain"
    assert harness.exchanges[0].endpoint == "request"


@pytest.mark.parametrize(
    ("auth", "target", "expected"),
    [
        ("key", "tts", {"x-api-key": "k-1"}),
        ("bearer", "tts", {"authorization": "Bearer k-1"}),
        ("wrong", "tts", {"x-api-key": WRONG_API_KEY}),
        ("none", "tts", {}),
        ("key", "openai", {"authorization": "Bearer sk-2"}),
        ("wrong", "openai", {"authorization": f"Bearer {WRONG_API_KEY}"}),
        ("none", "openai", {}),
    ],
)
def test_request_auth_modes(
    harness: Harness, auth: str, target: str, expected: dict[str, str]
) -> None:
    fake = Recorder(httpx.Response(401))
    s = settings(tts_api_key="k-1", openai_api_key="sk-2")
    harness.call(
        fake, "request", "GET", "x", target=target, auth=auth, client_options={"settings": s}
    )
    headers = fake.requests[0].headers
    sent = {name: headers[name] for name in ("x-api-key", "authorization") if name in headers}
    assert sent == expected


def test_request_headers_replace_credentials_case_insensitively(harness: Harness) -> None:
    fake = Recorder(httpx.Response(401))
    options = {"settings": settings(tts_api_key="k-1")}
    harness.call(
        fake, "request", "GET", "x", headers={"x-api-key": "other"}, client_options=options
    )
    assert fake.requests[0].headers.get_list("x-api-key") == ["other"]


def test_request_sends_repeated_file_fields(harness: Harness) -> None:
    fake = Recorder(httpx.Response(200))
    files = [("audio", ("a.wav", b"1", "audio/wav")), ("audio", ("b.wav", b"2", "audio/wav"))]
    harness.call(fake, "request", "POST", "v1/create_voice_prompt", files=files)
    assert fake.requests[0].read().count(b'name="audio"') == 2


def test_request_is_not_retried_unless_asked(harness: Harness) -> None:
    fake = Recorder(json_response(503, {"detail": "busy"}, {"Retry-After": "1"}))
    assert harness.call(fake, "request", "GET", "health").status_code == 503
    assert len(fake.requests) == 1
    assert harness.call(fake, "request", "GET", "health", retry=True).status_code == 503
    assert len(fake.requests) == 1 + 4


def test_request_accepts_absolute_urls_and_params(harness: Harness) -> None:
    fake = Recorder(httpx.Response(200, text="ok"))
    harness.call(fake, "request", "GET", "http://other.test/metrics", params={"a": "1"})
    assert str(fake.requests[0].url) == "http://other.test/metrics?a=1"


def test_paths_join_a_prefix_with_or_without_slashes(harness: Harness) -> None:
    fake = Recorder(httpx.Response(200))
    harness.call(fake, "request", "GET", "/v1/x")
    options = {"settings": settings(tts_remote_url="http://h:1/a/b/")}
    harness.call(fake, "request", "GET", "v1/x", client_options=options)
    assert [str(r.url) for r in fake.requests] == [
        "http://provider.test:8000/prefix/v1/x",
        "http://h:1/a/b/v1/x",
    ]


def test_missing_base_url_is_a_clear_error(harness: Harness) -> None:
    from voicebox_api import Settings, SettingsError

    fake = Recorder(httpx.Response(200))
    with pytest.raises(SettingsError, match="TTS_REMOTE_URL"):
        harness.call(fake, "generate", "Hi.", {}, client_options={"settings": Settings()})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (WAV, "audio/wav"),
        (b"fLaC\x00\x00", "audio/flac"),
        (b"OggS\x00", "audio/ogg"),
        (b"ID3\x04", "audio/mpeg"),
        (b"\xff\xfb\x90", "audio/mpeg"),
        (b"hello", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_upload_media_types_are_sniffed(data: bytes, expected: str) -> None:
    assert audio_content_type(data) == expected
