"""Voice prompts made from ``ref_audio``, remembered by the recording's digest.

A client that clones per request (the bridge, vLLM-Omni's clients) sends the same recording
with every request; making its prompt once saves the backend's feature extraction each time.
Bounded by count (an LRU), keyed by SHA-256 of the bytes and the transcript, so two different
recordings never share a prompt.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Final

__all__ = ["ClonedPrompts"]

DEFAULT_CAPACITY: Final = 64


class ClonedPrompts:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._prompts: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @staticmethod
    def key(audio: bytes, text: str) -> str:
        digest = hashlib.sha256(audio)
        digest.update(b"\0" + text.encode("utf-8"))
        return digest.hexdigest()

    async def get_or_make(
        self, key: str, make: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        if key in self._prompts:
            self._prompts.move_to_end(key)
            return self._prompts[key]
        prompt = await make()
        self._prompts[key] = prompt
        while len(self._prompts) > self.capacity:
            self._prompts.popitem(last=False)
        return prompt
