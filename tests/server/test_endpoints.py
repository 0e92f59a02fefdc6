"""The endpoints answer what SPEC.md and voicebox_api._models say, with the common headers."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests.server.conftest import INSTANCE, Harness
from tests.server.fakes import tone_wav
from voicebox_api import (
    SPEC_VERSION,
    ErrorBody,
    GenerateResponse,
    HealthResponse,
    TranscribeResponse,
    VoicePromptResponse,
    decode_response,
)
from voicebox_api.openapi import build_openapi


def test_health_is_healthy_with_full_capabilities(harness: Harness) -> None:
    response = harness.client.get("/health")
    assert response.status_code == 200
    body = HealthResponse.model_validate_json(response.content)
    assert body.status == "healthy"
    assert body.api_version == SPEC_VERSION
    assert body.model == harness.tts.model
    caps = body.capabilities
    assert caps is not None
    assert caps.languages == sorted(harness.tts.languages)
    assert caps.dtypes == ["float32"]
    assert caps.sample_rates == [24_000]
    assert caps.max_text_length == 500
    assert caps.max_upload_bytes == 25 * 1024 * 1024
    assert caps.deterministic_seed is True
    assert set(caps.audio_formats or ()) <= {"wav", "flac", "ogg", "mp3"}
    assert "wav" in (caps.audio_formats or ())
    assert caps.transcribe is True
    assert caps.openai_transcriptions is True
    assert caps.transcribe_languages == ["de", "en"]


def test_health_without_transcription_declares_it_lacking(make_harness) -> None:  # type: ignore[no-untyped-def]
    harness = make_harness(transcriber=None)
    caps = HealthResponse.model_validate_json(harness.client.get("/health").content).capabilities
    assert caps is not None
    assert caps.transcribe is False
    assert caps.transcribe_languages is None


def test_create_voice_prompt_then_generate(harness: Harness) -> None:
    prompt_response = harness.client.post(
        "/v1/create_voice_prompt",
        files={"audio": ("ref.wav", tone_wav(200.0), "audio/wav")},
        data={"reference_text": "hello"},
    )
    assert prompt_response.status_code == 200
    prompt = VoicePromptResponse.model_validate_json(prompt_response.content).voice_prompt
    assert abs(prompt["f0_hz"] - 200.0) < 5.0
    # VP-3: the prompt survives a JSON round trip.
    prompt = json.loads(json.dumps(prompt))
    response = harness.client.post(
        "/v1/generate",
        json={
            "text": "Hello, this is a test.",
            "voice_prompt": prompt,
            "language": "en",
            "seed": 7,
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    audio = decode_response(GenerateResponse.model_validate_json(response.content))
    assert audio.sample_rate == 24_000
    assert audio.dtype == "float32"
    assert 0.5 < audio.duration_s < 5.0
    assert float(np.max(np.abs(audio.samples))) > 0.1


def test_generate_defaults_language_and_seed(harness: Harness) -> None:
    response = harness.client.post(
        "/v1/generate", json={"text": "Only text and prompt.", "voice_prompt": harness.prompt()}
    )
    assert response.status_code == 200
    assert harness.tts.batches[-1] == ["Only text and prompt."]


@pytest.mark.parametrize("fmt", ["flac", "ogg", "mp3"])
def test_other_upload_formats_are_accepted(harness: Harness, fmt: str) -> None:
    response = harness.client.post(
        "/v1/create_voice_prompt", files={"audio": ("ref.bin", tone_wav(fmt=fmt), "audio/x")}
    )
    assert response.status_code == 200, response.text


def test_identical_seeded_requests_are_bit_identical(harness: Harness) -> None:
    body = {"text": "Same seed, same audio.", "voice_prompt": harness.prompt(), "seed": 99}
    first = harness.client.post("/v1/generate", json=body).json()
    second = harness.client.post("/v1/generate", json=body).json()
    assert first["audio"] == second["audio"]


def test_non_ascii_text_is_spoken(harness: Harness) -> None:
    body = {"text": "Grüße, 東京 ½ — «ok» №5!", "voice_prompt": harness.prompt()}
    response = harness.client.post("/v1/generate", json=body)
    assert response.status_code == 200


def test_text_of_exactly_max_length_is_accepted(harness: Harness) -> None:
    body = {"text": "a" * 500, "voice_prompt": harness.prompt()}
    assert harness.client.post("/v1/generate", json=body).status_code == 200


def test_transcribe_returns_text(harness: Harness) -> None:
    response = harness.client.post(
        "/v1/transcribe", files={"audio": ("a.wav", tone_wav(), "audio/wav")}
    )
    assert response.status_code == 200
    assert TranscribeResponse.model_validate_json(response.content).text == "hello world"


def test_transcribe_language_field_and_query(harness: Harness) -> None:
    assert harness.transcriber is not None
    files = {"audio": ("a.wav", tone_wav(), "audio/wav")}
    assert (
        harness.client.post("/v1/transcribe", files=files, data={"language": "en"}).status_code
        == 200
    )
    assert harness.transcriber.calls[-1]["language"] == "en"
    assert harness.client.post("/v1/transcribe?language=de", files=files).status_code == 200
    assert harness.transcriber.calls[-1]["language"] == "de"


def test_every_response_carries_id_instance_and_timing(harness: Harness) -> None:
    for response in (
        harness.client.get("/health"),
        harness.client.get("/no/such/path"),
        harness.client.post("/v1/generate", content=b"{"),
    ):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
        assert response.headers["x-served-by"] == INSTANCE
        assert "app;dur=" in response.headers["server-timing"]


def test_generation_reports_queue_and_inference_time(harness: Harness) -> None:
    body = {"text": "Timing.", "voice_prompt": harness.prompt()}
    timing = harness.client.post("/v1/generate", json=body).headers["server-timing"]
    assert re.search(
        r"queue;dur=\d+\.\d, inference;dur=\d+\.\d, encode;dur=\d+\.\d, app;dur=\d+\.\d", timing
    )


def test_sane_request_id_is_honoured_and_insane_replaced(harness: Harness) -> None:
    kept = harness.client.get("/health", headers={"X-Request-ID": "trace-42.a:b"})
    assert kept.headers["x-request-id"] == "trace-42.a:b"
    replaced = harness.client.get("/health", headers={"X-Request-ID": "<script>" + "x" * 300})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])


def test_error_body_carries_the_request_id(harness: Harness) -> None:
    response = harness.client.post(
        "/v1/generate", content=b"{", headers={"X-Request-ID": "abc-123"}
    )
    body = response.json()
    ErrorBody.model_validate(body)
    assert body["request_id"] == "abc-123"


def test_openapi_json_is_the_committed_document(harness: Harness) -> None:
    response = harness.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == build_openapi()


def test_unknown_path_and_method_answer_in_the_error_shape(harness: Harness) -> None:
    missing = harness.client.get("/v2/generate")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong_method = harness.client.get("/v1/generate")
    assert wrong_method.status_code == 405
    ErrorBody.model_validate(wrong_method.json())


def test_health_answers_head_for_load_balancers(harness: Harness) -> None:
    response = harness.client.head("/health")
    assert response.status_code == 200
    assert response.content == b""


def test_reference_text_may_come_from_the_query_string(harness: Harness) -> None:
    response = harness.client.post(
        "/v1/create_voice_prompt?reference_text=hello",
        files={"audio": ("ref.wav", tone_wav(), "audio/wav")},
    )
    assert response.status_code == 200
    assert harness.tts.reference_texts[-1] == "hello"
    harness.prompt()  # sends reference_text as a form field
    assert harness.tts.reference_texts[-1] == "a reference"
    as_file = harness.client.post(
        "/v1/create_voice_prompt",
        files={"audio": ("ref.wav", tone_wav(), "audio/wav"), "reference_text": ("t", b"x")},
    )
    assert as_file.status_code == 400
