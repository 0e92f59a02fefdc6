"""The default server (``python -m reference_server``, no flags) speaks with espeak."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from orchestration.processes import ReferenceServerProcess
from reference_server.backends.registry import BackendUnavailableError, ensure_available
from voicebox_api import GenerateResponse, HealthResponse, decode_response, write_audio


def _espeak_missing() -> bool:
    try:
        ensure_available("espeak")
    except BackendUnavailableError:
        return True
    return False


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_espeak_missing(), reason="the espeak backend is not installed"),
]


def _voiced(seconds: float = 2.0, rate: int = 24_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    f0 = 130.0 * (1 + 0.15 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    buzz = sum(np.sin(k * phase) / k for k in range(1, 12))
    signal = 0.15 * np.asarray(buzz) * 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    return write_audio(signal.astype(np.float32), rate)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    # The default backend; no cache, so that repeated requests are generated again.
    with ReferenceServerProcess("--whisper", "none", "--cache-bytes", "0") as server:
        yield server.base_url


def test_default_backend_is_espeak(base_url: str) -> None:
    health = HealthResponse.model_validate_json(httpx.get(f"{base_url}/health").content)
    assert health.status == "healthy"
    assert health.model.startswith("espeak-ng")


def test_speaks_with_a_voice_prompt_deterministically(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        prompt = client.post(
            "/v1/create_voice_prompt", files={"audio": ("ref.wav", _voiced(), "audio/wav")}
        )
        assert prompt.status_code == 200, prompt.text
        voice = prompt.json()["voice_prompt"]
        body = {"text": "Hello from the reference server.", "voice_prompt": voice, "seed": 3}
        first = client.post("/v1/generate", json=body)
        again = client.post("/v1/generate", json=body)
    assert first.status_code == again.status_code == 200
    audio = decode_response(GenerateResponse.model_validate_json(first.content))
    assert audio.sample_rate == 22_050
    assert 1.0 < audio.duration_s < 8.0
    assert first.json()["audio"] == again.json()["audio"]  # GEN-8, generated twice
