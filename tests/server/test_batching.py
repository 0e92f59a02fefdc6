"""Dynamic batching through the HTTP layer, with a backend that records its batches."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from reference_server.app import create_app
from tests.server.conftest import make_config, serve
from tests.server.fakes import ProbeBackend, tone_wav


def _run(
    tts: ProbeBackend, bodies: list[dict[str, Any]], **config: Any
) -> tuple[list[httpx.Response], list[list[str]]]:
    app = create_app(
        make_config(cache_bytes=0, **config),
        tts_factory=lambda: tts,
        transcriber_factory=lambda: None,
    )
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        prompt = client.post(
            "/v1/create_voice_prompt", files={"audio": ("a.wav", tone_wav(), "audio/wav")}
        ).json()["voice_prompt"]
        tts.release.clear()
        # Hold the first generation in the backend so the rest queue up behind it.
        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:

            def post(body: dict[str, Any]) -> httpx.Response:
                with httpx.Client(base_url=url, timeout=30) as own:
                    return own.post("/v1/generate", json={**body, "voice_prompt": prompt})

            first = pool.submit(post, bodies[0])
            assert tts.started.acquire(timeout=10)
            rest = [pool.submit(post, body) for body in bodies[1:]]
            _wait_depth(client, len(bodies) - 1)
            tts.release.set()
            responses = [first.result(30), *(job.result(30) for job in rest)]
    return responses, tts.batches


def _wait_depth(client: httpx.Client, depth: int) -> None:
    import time

    deadline = time.monotonic() + 10
    while f'voicebox_queue_depth{{queue="tts"}} {float(depth)}' not in client.get("/metrics").text:
        assert time.monotonic() < deadline, "jobs did not queue up"
        time.sleep(0.01)


def test_queued_requests_are_generated_together_and_answered_separately() -> None:
    tts = ProbeBackend(max_batch_size=4)
    bodies = [{"text": f"sentence number {i}", "seed": i} for i in range(7)]
    responses, batches = _run(tts, bodies, batch_window_ms=50)
    assert all(response.status_code == 200 for response in responses)
    assert [len(batch) for batch in batches[1:]] == [4, 2]  # after the held one
    # Each answer is its own text's audio: lengths follow the texts, payloads differ.
    payloads = [base64.b64decode(response.json()["audio"]) for response in responses]
    assert len(set(payloads)) == len(payloads)
    batched = [r for r in responses if "batch;desc=" in r.headers["server-timing"]]
    assert len(batched) == 6


def test_only_compatible_requests_share_a_batch() -> None:
    tts = ProbeBackend(max_batch_size=8)
    bodies = [{"text": "held"}] + [
        {"text": f"t{i}", "language": "en" if i % 2 else "de"} for i in range(6)
    ]
    _, batches = _run(tts, bodies, batch_window_ms=50)
    by_text = {text: i for i, text in enumerate(b["text"] for b in bodies)}
    for batch in batches[1:]:
        languages = {bodies[by_text[text]].get("language") for text in batch}
        assert len(languages) == 1
    assert sorted(len(batch) for batch in batches[1:]) == [3, 3]


def test_the_server_can_cap_the_backends_batch_size() -> None:
    tts = ProbeBackend(max_batch_size=8)
    bodies = [{"text": f"t{i}"} for i in range(5)]
    _, batches = _run(tts, bodies, batch_window_ms=50, max_batch_size=2)
    assert [len(batch) for batch in batches[1:]] == [2, 2]
