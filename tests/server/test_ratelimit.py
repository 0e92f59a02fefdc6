"""Token buckets per client, and the server's 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from reference_server.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_the_rate_applies() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == 0.5
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_clients_have_their_own_buckets() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=Clock())
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0.0


def test_the_table_of_clients_is_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_clients=2, clock=Clock())
    for client in ("a", "b", "c"):
        limiter.acquire(client)
    assert len(limiter._buckets) == 2


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert RateLimiter.retry_after_header(0.01) == "1"
    assert RateLimiter.retry_after_header(2.3) == "3"


def test_the_server_answers_429_with_retry_after(make_harness: Any) -> None:
    harness = make_harness(rate_limit=0.5, rate_burst=2)
    body = {"text": "hi", "voice_prompt": harness.prompt()}  # the prompt takes one token
    assert harness.client.post("/v1/generate", json=body).status_code == 200
    limited = harness.client.post("/v1/generate", json=body)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert harness.client.get("/health").status_code == 200  # /health is never limited
    assert 'voicebox_rejected_requests_total{reason="rate_limited"} 1.0' in (
        harness.client.get("/metrics").text
    )


def test_rate_limiting_is_off_by_default(harness: Any) -> None:
    body = {"text": "hi", "voice_prompt": harness.prompt()}
    assert all(harness.client.post("/v1/generate", json=body).status_code == 200 for _ in range(20))
