"""The qwen backend behind the server, on qwen's tiny random checkpoint (CPU, no download):
the registry loads it, prompts round-trip, seeds are honoured, unseeded requests batch."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reference_server.app import create_app
from tests.server.conftest import make_config, serve
from voicebox_api import write_audio

pytestmark = [
    pytest.mark.slow,
    pytest.mark.qwen,
    pytest.mark.skipif(
        importlib.util.find_spec("qwen_tts") is None, reason="qwen-tts (the qwen extra) missing"
    ),
]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import torch

    from testkit.qwen_tiny import build_tiny_checkpoint

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model only loses to thread contention on 2 cores
    checkpoint = build_tiny_checkpoint(tmp_path_factory.mktemp("qwen") / "tiny")
    config = make_config(
        backend="qwen",
        model=str(checkpoint),
        device="cpu",
        backend_options={"max_batch_size": "4"},
        batch_window_ms=300.0,
        cache_bytes=0,
    )
    try:
        with serve(create_app(config, transcriber_factory=lambda: None)) as url:
            yield url
    finally:
        torch.set_num_threads(threads)


def _prompt(client: httpx.Client) -> dict[str, Any]:
    from tests.qwen.helpers import REFERENCE_TEXT, SAMPLE_RATE, voiced_signal

    wav = write_audio(voiced_signal(seconds=2.0), SAMPLE_RATE)
    response = client.post(
        "/v1/create_voice_prompt",
        files={"audio": ("ref.wav", wav, "audio/wav")},
        data={"reference_text": REFERENCE_TEXT},
    )
    assert response.status_code == 200, response.text
    prompt: dict[str, Any] = response.json()["voice_prompt"]
    return prompt


def test_health_describes_the_qwen_model(base_url: str) -> None:
    body = httpx.get(f"{base_url}/health", timeout=10).json()
    assert body["status"] == "healthy"
    assert body["device"] == "cpu"
    assert body["capabilities"]["deterministic_seed"] is True
    assert "en" in body["capabilities"]["languages"]


def test_seeded_requests_are_bit_identical(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=120) as client:
        body = {"text": "Seeded.", "voice_prompt": _prompt(client), "seed": 11}
        first = client.post("/v1/generate", json=body)
        second = client.post("/v1/generate", json=body)
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["audio"] == second.json()["audio"]


def test_concurrent_unseeded_requests_share_a_batch(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=120) as client:
        prompt = _prompt(client)

        def generate(i: int) -> int:
            with httpx.Client(base_url=base_url, timeout=120) as own:
                body = {"text": f"Number {i}.", "voice_prompt": prompt}
                return own.post("/v1/generate", json=body).status_code

        with ThreadPoolExecutor(max_workers=3) as pool:
            assert list(pool.map(generate, range(3))) == [200, 200, 200]
        metrics = client.get("/metrics").text
    sizes = {
        sample.labels.get("le"): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "voicebox_batch_size_bucket" and sample.labels.get("queue") == "tts"
    }
    total = next(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "voicebox_batch_size_count" and sample.labels.get("queue") == "tts"
    )
    assert sizes["1.0"] < total  # at least one call carried more than one job


def test_a_foreign_prompt_is_refused(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/v1/generate",
        json={"text": "x", "voice_prompt": {"kind": "synthetic-voice/1"}},
        timeout=30,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_voice_prompt"


def test_openai_speech_clones_from_ref_audio_and_named_voices(base_url: str) -> None:
    import base64

    from tests.qwen.helpers import REFERENCE_TEXT, SAMPLE_RATE, voiced_signal

    wav = write_audio(voiced_signal(seconds=2.0), SAMPLE_RATE)
    ref_audio = "data:audio/wav;base64," + base64.b64encode(wav).decode()
    common = {"model": "qwen", "input": "Hello there.", "seed": 3}
    with httpx.Client(base_url=base_url, timeout=120) as client:
        cloned = client.post(
            "/v1/audio/speech",
            json={
                **common,
                "voice": "x",
                "ref_audio": ref_audio,
                "ref_text": REFERENCE_TEXT,
                "response_format": "pcm",
            },
        )
        named = client.post("/v1/audio/speech", json={**common, "voice": "echo"})
    assert cloned.status_code == 200, cloned.text
    assert len(cloned.content) % 2 == 0
    assert cloned.content
    assert named.status_code == 200, named.text
    assert named.headers["content-type"] == "audio/mpeg"
