"""The retry rules: connect errors, 429 and 503 are retried with capped, jittered backoff that
honours Retry-After; nothing that may have reached the provider is retried."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.client.conftest import Harness, Recorder, generate_body, json_response
from voicebox_api import (
    NO_RETRY,
    ProtocolError,
    ProviderConnectionError,
    ProviderHTTPError,
    ProviderTimeoutError,
    ProviderTransportError,
    RateLimitedError,
    RetryPolicy,
    RetrySchedule,
    UnavailableError,
    parse_retry_after,
)

OK = json_response(200, generate_body())
BUSY = json_response(503, {"detail": "queue full"}, {"Retry-After": "2"})
LIMITED = json_response(429, {"detail": "slow down"}, {"Retry-After": "1"})


def _connect_error() -> httpx.ConnectError:
    return httpx.ConnectError("[Errno 111] Connection refused")


def test_connect_errors_are_retried(harness: Harness) -> None:
    fake = Recorder(_connect_error(), _connect_error(), OK)
    result = harness.call(fake, "generate", "Hi.", {})
    assert result.response.status_code == 200
    assert len(fake.requests) == 3
    assert len(harness.sleeps) == 2
    assert [e.attempt for e in harness.exchanges] == [1, 2, 3]
    assert [type(e.error) for e in harness.exchanges] == [httpx.ConnectError] * 2 + [type(None)]


def test_connect_timeouts_are_retried(harness: Harness) -> None:
    fake = Recorder(httpx.ConnectTimeout("timed out"), OK)
    harness.call(fake, "generate", "Hi.", {})
    assert len(fake.requests) == 2


@pytest.mark.parametrize(("answer", "retry_after"), [(BUSY, 2.0), (LIMITED, 1.0)])
def test_429_and_503_are_retried_honouring_delay_seconds(
    harness: Harness, answer: httpx.Response, retry_after: float
) -> None:
    fake = Recorder(answer, answer, OK)
    harness.call(fake, "generate", "Hi.", {})
    assert len(fake.requests) == 3
    assert all(delay >= retry_after for delay in harness.sleeps)
    assert len(harness.sleeps) == 2


def test_retry_after_as_an_http_date_is_honoured(harness: Harness) -> None:
    when = datetime.now(UTC) + timedelta(seconds=5)
    busy = json_response(503, {"detail": "busy"}, {"Retry-After": format_datetime(when, True)})
    fake = Recorder(busy, OK)
    harness.call(fake, "generate", "Hi.", {})
    (delay,) = harness.sleeps
    # whole seconds on the wire, the clock moved a little, plus at most the first jitter (0.5 s)
    assert 3.5 < delay <= 5.5


@pytest.mark.parametrize(
    "outcome",
    [
        json_response(500, {"detail": "boom"}),
        json_response(502, {"detail": "bad gateway"}),
        json_response(504, {"detail": "gateway timeout"}),
        json_response(422, {"detail": "invalid"}),
        httpx.ReadTimeout("read timed out"),
        httpx.WriteTimeout("write timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
        httpx.WriteError("broken pipe"),
    ],
    ids=lambda o: str(o.status_code) if isinstance(o, httpx.Response) else type(o).__name__,
)
def test_anything_that_may_have_reached_the_provider_is_not_retried(
    harness: Harness, outcome: httpx.Response | Exception
) -> None:
    fake = Recorder(outcome, OK)
    with pytest.raises((ProviderHTTPError, ProviderTransportError)) as caught:
        harness.call(fake, "generate", "Hi.", {})
    assert len(fake.requests) == 1
    assert harness.sleeps == []
    assert caught.value.attempts == 1


def test_a_bad_success_body_is_not_retried(harness: Harness) -> None:
    fake = Recorder(json_response(200, {"audio": "!!"}), OK)
    with pytest.raises(ProtocolError):
        harness.call(fake, "generate", "Hi.", {})
    assert len(fake.requests) == 1


def test_attempts_are_bounded_and_the_last_error_is_raised(harness: Harness) -> None:
    fake = Recorder(BUSY)
    with pytest.raises(UnavailableError) as caught:
        harness.call(fake, "generate", "Hi.", {})
    assert len(fake.requests) == 4
    assert caught.value.attempts == 4
    assert len(harness.sleeps) == 3
    assert caught.value.retry_after == 2.0
    assert "after 4 attempts" in caught.value.message


def test_connect_errors_exhaust_into_a_connection_error(harness: Harness) -> None:
    fake = Recorder(_connect_error())
    with pytest.raises(ProviderConnectionError) as caught:
        harness.call(fake, "generate", "Hi.", {})
    assert len(fake.requests) == 4
    assert caught.value.attempts == 4
    assert isinstance(caught.value.cause, httpx.ConnectError)


def test_a_retry_after_beyond_the_sleep_budget_stops_retrying(harness: Harness) -> None:
    limited = json_response(429, {"detail": "later"}, {"Retry-After": "3600"})
    fake = Recorder(limited)
    with pytest.raises(RateLimitedError) as caught:
        harness.call(fake, "generate", "Hi.", {})
    assert len(fake.requests) == 1
    assert harness.sleeps == []
    assert caught.value.retry_after == 3600.0


def test_total_sleep_is_capped(harness: Harness) -> None:
    busy = json_response(503, {"detail": "busy"}, {"Retry-After": "4"})
    policy = RetryPolicy(max_attempts=10, base_delay=0.1, max_delay=1.0, max_total_delay=10.0)
    fake = Recorder(busy)
    with pytest.raises(UnavailableError):
        harness.call(fake, "generate", "Hi.", {}, client_options={"retry": policy})
    # each sleep is Retry-After plus jitter; a third would pass the 10 s budget
    assert len(harness.sleeps) == 2
    assert all(4.0 <= sleep <= 4.2 for sleep in harness.sleeps)
    assert len(fake.requests) == 3


def test_no_retry_policy_makes_one_attempt(harness: Harness) -> None:
    fake = Recorder(_connect_error())
    with pytest.raises(ProviderConnectionError):
        harness.call(fake, "generate", "Hi.", {}, client_options={"retry": NO_RETRY})
    assert len(fake.requests) == 1


def test_timeouts_map_to_their_phase(harness: Harness) -> None:
    fake = Recorder(httpx.ReadTimeout("read timed out"))
    with pytest.raises(ProviderTimeoutError) as caught:
        harness.call(fake, "generate", "Hi.", {})
    assert caught.value.phase == "read"
    assert "not retried" in caught.value.message


# --- The policy itself ---------------------------------------------------------------------------


@given(
    retry=st.integers(1, 30),
    base=st.floats(0.001, 5),
    cap=st.floats(0.001, 60),
    seed=st.integers(0, 2**32),
)
def test_backoff_is_full_jitter_under_an_exponential_cap(
    retry: int, base: float, cap: float, seed: int
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap)
    delay = policy.backoff(retry, random.Random(seed).uniform)
    assert 0.0 <= delay <= min(cap, base * 2 ** (retry - 1))


def test_backoff_uses_the_whole_jitter_range() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0)
    assert policy.backoff(3, lambda low, high: high) == 4.0
    assert policy.backoff(3, lambda low, high: low) == 0.0
    assert policy.backoff(10, lambda low, high: high) == 100.0


def test_schedule_adds_jitter_to_retry_after() -> None:
    """Never sooner than Retry-After, and clients refused together spread out."""
    policy = RetryPolicy(base_delay=1.0, max_delay=1.0, max_total_delay=1000.0)
    delays = []
    for seed in range(20):
        schedule = RetrySchedule(policy, rng=random.Random(seed))
        schedule.start_attempt()
        delay = schedule.delay_after(httpx.Response(503, headers={"Retry-After": "30"}))
        assert delay is not None
        delays.append(delay)
    assert all(30.0 <= delay <= 31.0 for delay in delays)
    assert len(set(delays)) == len(delays)


@pytest.mark.parametrize("attempts", [0, -1])
def test_policy_refuses_no_attempts(attempts: int) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=attempts)


def test_policy_refuses_negative_delays() -> None:
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(base_delay=-1)


NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Fri, 02 Jan 2026 03:04:35 GMT", 30.0),
        ("Friday, 02-Jan-26 03:04:15 GMT", 10.0),  # RFC 850, obsolete but allowed
        ("Fri Jan  2 03:04:25 2026", 20.0),  # asctime
        ("Thu, 01 Jan 2026 00:00:00 GMT", 0.0),  # in the past
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("١٢", None),  # Arabic-Indic digits are digits to Python, not to HTTP
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected
