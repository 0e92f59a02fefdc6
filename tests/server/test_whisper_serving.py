"""Transcription through the registry's default: the bundled Whisper tiny.en (no download)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from orchestration.processes import wait_healthy
from reference_server.app import create_app
from reference_server.backends.registry import bundled_whisper_available
from tests.server.conftest import make_config
from tests.server.fakes import ProbeBackend, tone_wav
from voicebox_api import HealthResponse, OpenAIVerboseTranscription, TranscribeResponse

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not bundled_whisper_available(), reason="faster-whisper or model missing"),
]


def test_auto_whisper_serves_both_transcription_endpoints() -> None:
    app = create_app(make_config(whisper="auto", whisper_device="cpu"), tts_factory=ProbeBackend)
    with TestClient(app) as client:
        wait_healthy(client, timeout_s=60)
        health = HealthResponse.model_validate_json(client.get("/health").content)
        assert health.capabilities is not None
        assert health.capabilities.transcribe is True
        assert health.capabilities.transcribe_languages == ["en"]
        clip = tone_wav(seconds=2.0)
        plain = client.post("/v1/transcribe", files={"audio": ("a.wav", clip, "audio/wav")})
        assert plain.status_code == 200, plain.text
        TranscribeResponse.model_validate_json(plain.content)
        unsupported = client.post(
            "/v1/transcribe", files={"audio": ("a.wav", clip, "audio/wav")}, data={"language": "de"}
        )
        assert unsupported.status_code == 422  # tiny.en speaks English only
        verbose = client.post(
            "/v1/audio/transcriptions",
            files={"file": ("a.wav", clip, "audio/wav")},
            data={"model": "whisper-1", "response_format": "verbose_json"},
        )
        assert verbose.status_code == 200, verbose.text
        assert OpenAIVerboseTranscription.model_validate_json(verbose.content).duration == (
            pytest.approx(2.0, abs=0.05)
        )
