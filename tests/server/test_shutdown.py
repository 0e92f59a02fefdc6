"""SIGTERM: stop accepting, finish what is in flight, then exit."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from orchestration.processes import ReferenceServerProcess
from tests.server.fakes import tone_wav


@pytest.mark.slow
def test_sigterm_lets_running_and_queued_generations_finish() -> None:
    with ReferenceServerProcess(
        "--backend", "synthetic", "--backend-options", "latency_ms=3000", "--whisper", "none",
        "--shutdown-timeout-s", "20",
    ) as server:  # fmt: skip
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            prompt = client.post(
                "/v1/create_voice_prompt", files={"audio": ("a.wav", tone_wav(), "audio/wav")}
            ).json()["voice_prompt"]
        with ThreadPoolExecutor(max_workers=2) as pool:
            started = time.monotonic()
            # One generation in the backend, one waiting in the queue behind it.
            in_flight = [
                pool.submit(
                    httpx.post,
                    f"{server.base_url}/v1/generate",
                    json={"text": f"finish me please {i}", "voice_prompt": prompt},
                    timeout=30,
                )
                for i in range(2)
            ]
            _wait_for_queue(server.base_url, running=1, waiting=1)
            server.terminate()
            for job in in_flight:
                response = job.result(30)
                assert response.status_code == 200
                assert response.json()["audio"]
            assert time.monotonic() - started >= 6.0  # both ran to the end, one after the other
            server.wait(30)
            assert server.exited_cleanly, server.lines
            # Nothing listens any more.
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{server.base_url}/health", timeout=2)
    log = "".join(server.lines)
    assert "Waiting for connections to close" in log


def _wait_for_queue(base_url: str, *, running: int, waiting: int, timeout_s: float = 60) -> None:
    """Wait until the server's own gauges show the jobs in place (however slow they were to
    arrive); ``timeout_s`` only bounds a hang."""
    wanted = {"voicebox_queue_running": running, "voicebox_queue_depth": waiting}
    deadline = time.monotonic() + timeout_s
    while _tts_gauges(httpx.get(f"{base_url}/metrics", timeout=5).text) != wanted:
        assert time.monotonic() < deadline, f"the queue never reached {wanted}"
        time.sleep(0.02)


def _tts_gauges(exposition: str) -> dict[str, int]:
    return {
        family.name: int(sample.value)
        for family in text_string_to_metric_families(exposition)
        if family.name in ("voicebox_queue_running", "voicebox_queue_depth")
        for sample in family.samples
        if sample.labels.get("queue") == "tts"
    }
