"""An LRU cache of seeded generations, bounded in bytes, with single-flight de-duplication.

Only seeded requests may be cached (SPEC.md Appendix A.8): an unseeded request asks for a fresh
sample. The key is (text, voice-prompt hash, language, seed); the value is the finished response
body, so a hit costs no inference and no encoding. Identical requests that arrive while the
first is still being generated wait for it instead of generating again.

The cache lives on the event loop: it is not thread-safe and needs no lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CacheKey", "CacheStats", "GenerationCache", "prompt_hash"]


@dataclass(frozen=True)
class CacheKey:
    text: str
    prompt_hash: str
    language: str
    seed: int

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8")) + len(self.prompt_hash) + len(self.language) + 8


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    evictions: int
    coalesced: int
    entries: int
    bytes: int
    max_bytes: int


def prompt_hash(prompt: dict[str, Any]) -> str:
    """sha256 of the prompt's canonical JSON: key order and whitespace do not matter."""
    canonical = json.dumps(
        prompt, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class GenerationCache:
    """``max_bytes`` bounds keys plus values; 0 disables caching (and de-duplication)."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[CacheKey, bytes] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._coalesced = 0
        self._in_flight: dict[CacheKey, asyncio.Future[bytes]] = {}

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            evictions=self._evictions,
            coalesced=self._coalesced,
            entries=len(self._entries),
            bytes=self._bytes,
            max_bytes=self.max_bytes,
        )

    def get(self, key: CacheKey) -> bytes | None:
        value = self._entries.get(key)
        if value is None:
            self._misses += 1
            return None
        self._entries.move_to_end(key)
        self._hits += 1
        return value

    def put(self, key: CacheKey, value: bytes) -> None:
        cost = key.size + len(value)
        if not self.enabled or cost > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= key.size + len(old)
        self._entries[key] = value
        self._bytes += cost
        while self._bytes > self.max_bytes:
            evicted_key, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted_key.size + len(evicted)
            self._evictions += 1

    async def get_or_create(
        self, key: CacheKey, create: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, bool]:
        """The cached body, or ``create()``'s; the flag says whether it came from the cache or
        from an identical request in flight. ``create``'s errors reach every waiter."""
        if not self.enabled:
            return await create(), False
        while True:
            cached = self.get(key)
            if cached is not None:
                return cached, True
            leader = self._in_flight.get(key)
            if leader is None:
                break
            try:
                value = await asyncio.shield(leader)
            except _LeaderCancelled:
                continue  # its client went away; try again, perhaps as the leader
            self._coalesced += 1
            return value, True
        return await self._lead(key, create), False

    async def _lead(self, key: CacheKey, create: Callable[[], Awaitable[bytes]]) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await create()
        except Exception as exc:
            _settle_error(future, exc)
            raise
        except BaseException:
            _settle_error(future, _LeaderCancelled())
            raise
        finally:
            del self._in_flight[key]
        self.put(key, value)
        future.set_result(value)
        return value


class _LeaderCancelled(Exception):
    """The request generating a value was cancelled; its waiters should retry."""


def _settle_error(future: asyncio.Future[bytes], error: Exception) -> None:
    future.set_exception(error)
    future.exception()  # mark it retrieved: no warning when nobody was waiting
