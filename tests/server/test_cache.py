"""The generation cache: bounded in bytes, LRU, seeded requests only, single-flight."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reference_server.cache import CacheKey, GenerationCache, prompt_hash
from tests.server.conftest import Harness


def _key(text: str, seed: int = 1) -> CacheKey:
    return CacheKey(text=text, prompt_hash="p" * 64, language="en", seed=seed)


def test_prompt_hash_ignores_key_order_and_whitespace() -> None:
    assert prompt_hash({"a": 1, "b": [1, 2]}) == prompt_hash({"b": [1, 2], "a": 1})
    assert prompt_hash({"a": 1}) != prompt_hash({"a": 2})


def test_lru_evicts_the_least_recently_used_to_stay_under_its_bytes() -> None:
    cost = _key("a").size + 100
    cache = GenerationCache(max_bytes=3 * cost)
    for name in "abc":
        cache.put(_key(name), b"x" * 100)
    assert cache.get(_key("a")) is not None  # a is now the most recent
    cache.put(_key("d"), b"x" * 100)
    assert cache.get(_key("b")) is None
    assert cache.get(_key("a")) is not None
    stats = cache.stats()
    assert stats.evictions == 1
    assert stats.entries == 3
    assert stats.bytes == 3 * cost <= stats.max_bytes


def test_an_entry_larger_than_the_cache_is_not_stored() -> None:
    cache = GenerationCache(max_bytes=1000)
    cache.put(_key("big"), b"x" * 2000)
    assert cache.stats().entries == 0
    assert cache.stats().bytes == 0


def test_replacing_an_entry_keeps_the_byte_count_right() -> None:
    cache = GenerationCache(max_bytes=10_000)
    cache.put(_key("a"), b"x" * 100)
    cache.put(_key("a"), b"x" * 50)
    assert cache.stats().bytes == _key("a").size + 50


def test_hits_and_misses_are_counted() -> None:
    cache = GenerationCache(max_bytes=10_000)
    assert cache.get(_key("a")) is None
    cache.put(_key("a"), b"v")
    assert cache.get(_key("a")) == b"v"
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)


def test_identical_requests_in_flight_are_generated_once() -> None:
    cache = GenerationCache(max_bytes=10_000)
    calls = 0

    async def create() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return b"audio"

    async def main() -> list[tuple[bytes, bool]]:
        return list(
            await asyncio.gather(*(cache.get_or_create(_key("a"), create) for _ in range(5)))
        )

    results = asyncio.run(main())
    assert calls == 1
    assert [value for value, _ in results] == [b"audio"] * 5
    assert sorted(flag for _, flag in results) == [False, True, True, True, True]
    assert cache.stats().coalesced == 4


def test_an_error_reaches_every_waiter_and_is_not_cached() -> None:
    cache = GenerationCache(max_bytes=10_000)

    async def fail() -> bytes:
        await asyncio.sleep(0.02)
        raise RuntimeError("no")

    async def main() -> list[Any]:
        tasks = [cache.get_or_create(_key("a"), fail) for _ in range(3)]
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    assert all(isinstance(result, RuntimeError) for result in asyncio.run(main()))
    assert cache.stats().entries == 0


def test_waiters_take_over_when_the_leader_is_cancelled() -> None:
    cache = GenerationCache(max_bytes=10_000)

    async def slow() -> bytes:
        await asyncio.sleep(10)
        return b"never"

    async def quick() -> bytes:
        return b"second"

    async def main() -> tuple[bytes, bool]:
        leader = asyncio.ensure_future(cache.get_or_create(_key("a"), slow))
        await asyncio.sleep(0.01)
        waiter = asyncio.ensure_future(cache.get_or_create(_key("a"), quick))
        await asyncio.sleep(0.01)
        leader.cancel()
        return await asyncio.wait_for(waiter, 5)

    assert asyncio.run(main()) == (b"second", False)


def test_disabled_cache_always_creates() -> None:
    cache = GenerationCache(max_bytes=0)

    async def create() -> bytes:
        return b"v"

    assert asyncio.run(cache.get_or_create(_key("a"), create)) == (b"v", False)
    assert cache.stats().entries == 0


@pytest.mark.parametrize("seed", [None, 5])
def test_the_server_caches_seeded_requests_only(harness: Harness, seed: int | None) -> None:
    body = {"text": "cache me", "voice_prompt": harness.prompt(), "seed": seed}
    first = harness.client.post("/v1/generate", json=body)
    second = harness.client.post("/v1/generate", json=body)
    assert first.status_code == second.status_code == 200
    generated = len(harness.tts.batches)
    assert generated == (1 if seed is not None else 2)
    hit = 'cache;desc="hit"' in second.headers["server-timing"]
    assert hit is (seed is not None)
    metrics = harness.client.get("/metrics").text
    assert f"voicebox_cache_hits_total {1.0 if seed is not None else 0.0}" in metrics


def test_cache_key_covers_text_prompt_language_and_seed(harness: Harness) -> None:
    prompt = harness.prompt()
    base = {"text": "key", "voice_prompt": prompt, "language": "en", "seed": 1}
    variants = [
        base,
        {**base, "text": "key2"},
        {**base, "language": "de"},
        {**base, "seed": 2},
    ]
    for body in variants:
        assert harness.client.post("/v1/generate", json=body).status_code == 200
    assert len(harness.tts.batches) == 4
    # The same prompt with its keys in another order is the same key.
    reordered = {**base, "voice_prompt": dict(reversed(list(prompt.items())))}
    assert harness.client.post("/v1/generate", json=reordered).status_code == 200
    assert len(harness.tts.batches) == 4
