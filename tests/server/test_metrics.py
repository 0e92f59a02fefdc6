"""/metrics exposes requests, latency, queue, in-flight, batch sizes, RTF and the cache."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.server.conftest import Harness


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_cover_the_serving_layer(harness: Harness) -> None:
    prompt = harness.prompt()
    for seed in (1, 1, None):
        body = {"text": "Metrics, please.", "voice_prompt": prompt, "seed": seed}
        assert harness.client.post("/v1/generate", json=body).status_code == 200
    harness.client.post("/v1/generate", content=b"{")
    response = harness.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    generate = {"endpoint": "/v1/generate", "method": "POST"}
    assert value("voicebox_http_requests_total", status="200", **generate) == 3
    assert value("voicebox_http_requests_total", status="400", **generate) == 1
    assert value("voicebox_http_request_duration_seconds_count", endpoint="/v1/generate") == 4
    assert value("voicebox_queue_depth", queue="tts") == 0
    assert value("voicebox_queue_capacity", queue="tts") == 64
    assert value("voicebox_http_requests_in_flight") == 1  # this scrape
    # One prompt and two generations reached the backend; the repeat was a cache hit.
    assert value("voicebox_batch_size_count", queue="tts") == 3
    assert value("voicebox_generation_rtf_count") == 2
    assert value("voicebox_generated_audio_seconds_total") > 0
    assert value("voicebox_cache_hits_total") == 1
    assert value("voicebox_cache_misses_total") == 1
    assert value("voicebox_cache_bytes") > 0
    assert value("voicebox_cache_entries") == 1
    assert value("voicebox_queue_wait_seconds_count", queue="tts") == 3


def test_unknown_paths_share_one_label(harness: Harness) -> None:
    for i in range(5):
        harness.client.get(f"/random/{i}")
    text = harness.client.get("/metrics").text
    assert "/random/" not in text
    assert 'endpoint="other"' in text
