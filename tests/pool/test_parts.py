"""The pool's parts on their own: configuration, breaker, poll schedule, usage and cost."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest

from voicebox_api import (
    BreakerPolicy,
    CircuitBreaker,
    PollSchedule,
    PoolConfig,
    SettingsError,
    UsageMeter,
    cost_per_audio_hour,
    prompt_tag,
)


def test_single_url_is_todays_one_provider() -> None:
    config = PoolConfig.from_env({"TTS_REMOTE_URL": "http://gpu:8000/", "TTS_API_KEY": "k"})
    (spec,) = config.providers
    assert spec.url == "http://gpu:8000"
    assert spec.api_key is not None
    assert spec.api_key.get_secret_value() == "k"
    assert (config.max_attempts, config.health_interval_s) == (1, None)


def test_url_list_with_one_key_for_all() -> None:
    env = {"TTS_REMOTE_URLS": "http://a:8000, http://b:8000", "TTS_API_KEY": "k"}
    config = PoolConfig.from_env(env)
    assert [p.url for p in config.providers] == ["http://a:8000", "http://b:8000"]
    assert [p.name for p in config.providers] == ["a:8000", "b:8000"]
    assert all(p.api_key and p.api_key.get_secret_value() == "k" for p in config.providers)
    assert config.max_attempts == 2


def test_url_list_with_matching_keys() -> None:
    env = {"TTS_REMOTE_URLS": "http://a:8000,http://b:8000", "TTS_API_KEYS": "ka,"}
    first, second = PoolConfig.from_env(env).providers
    assert first.api_key is not None
    assert first.api_key.get_secret_value() == "ka"
    assert second.api_key is None


def test_key_count_must_match() -> None:
    env = {"TTS_REMOTE_URLS": "http://a:8000,http://b:8000", "TTS_API_KEYS": "ka,kb,kc"}
    with pytest.raises(SettingsError, match="TTS_API_KEYS"):
        PoolConfig.from_env(env)


def test_bad_url_in_the_list_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="TTS_REMOTE_URL"):
        PoolConfig.from_env({"TTS_REMOTE_URLS": "gpu-a:8000"})


def test_pool_file(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_text(json.dumps({
        "providers": [
            {"url": "http://a:8000", "api_key_env": "A_KEY", "languages": ["en", "de"]},
            {"url": "http://b:8000", "name": "b", "voices": ["narrator"], "engine": "qwen3-tts"},
        ],
        "max_attempts": 2, "health_interval_s": 1,
    }))  # fmt: skip
    config = PoolConfig.from_env({"TTS_POOL_FILE": str(path), "A_KEY": "secret"})
    a, b = config.providers
    assert a.languages == {"en", "de"}
    assert a.api_key is not None
    assert (b.name, b.voices, b.engine) == ("b", {"narrator"}, "qwen3-tts")
    assert (config.max_attempts, config.health_interval_s) == (2, 1)
    with pytest.raises(SettingsError, match="A_KEY"):
        PoolConfig.from_env({"TTS_POOL_FILE": str(path)})


def test_breaker_cycle_and_doubling_cool_down() -> None:
    now = [0.0]
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, open_s=1, max_open_s=3),
                             clock=lambda: now[0])  # fmt: skip
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"  # not consecutive
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.acquire()
    now[0] = 1.0
    assert breaker.acquire()
    assert not breaker.acquire()
    breaker.record_failure()
    now[0] = 2.5
    assert breaker.state == "open"  # cool-down doubled to 2 s
    now[0] = 3.0
    assert breaker.acquire()
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.opened_count == 2


def test_poll_schedule_backs_off_and_recovers() -> None:
    schedule = PollSchedule(["a"], 1.0, 8.0, random.Random(0))
    assert schedule.due(0.0) == ["a"]
    for expected in (2.0, 4.0, 8.0, 8.0):
        schedule.done("a", ok=False, now=0.0)
        assert schedule.current["a"] == expected
    schedule.done("a", ok=True, now=0.0)
    assert schedule.current["a"] == 1.0
    assert 0.9 <= schedule.wait_s(0.0) <= 1.1


def test_usage_meter_is_thread_safe() -> None:
    meter = UsageMeter()

    def work() -> None:
        for _ in range(1000):
            meter.record_success("a", 0.5, 0.1)
            meter.record_error("b")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = meter.snapshot()
    assert (usage["a"].requests, usage["a"].audio_seconds) == (4000, pytest.approx(2000.0))
    assert (usage["b"].errors, usage["b"].ok) == (4000, 0)
    assert meter.total().requests == 8000


@pytest.mark.parametrize(
    ("price", "rate", "expected"),
    [
        (2.0, 1.0, 2.0),  # real time: one audio-hour takes an hour
        (2.0, 10.0, 0.2),  # ten times real time: an audio-hour takes six minutes
        (3.6, 0.5, 7.2),  # half real time: two hours per audio-hour
        (0.0, 5.0, 0.0),
    ],
)
def test_cost_per_audio_hour(price: float, rate: float, expected: float) -> None:
    assert cost_per_audio_hour(price, rate) == pytest.approx(expected)


def test_cost_without_throughput_is_infinite() -> None:
    assert cost_per_audio_hour(1.0, 0.0) == float("inf")
    with pytest.raises(ValueError, match="negative"):
        cost_per_audio_hour(-1.0, 1.0)


def test_prompt_tag() -> None:
    assert prompt_tag({"engine": "espeak", "version": 1}) == "espeak"
    assert prompt_tag({"kind": "synthetic-voice/1"}) == "synthetic-voice/1"
    assert prompt_tag({"opaque": True}) is None
