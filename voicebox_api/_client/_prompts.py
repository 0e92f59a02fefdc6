"""Which engine made a voice prompt, and the reference audio to make it again elsewhere.

A voice prompt is opaque and per engine: one made by a Qwen3-TTS provider means nothing to an
espeak one. The pool keeps, for each prompt it created, the engine that made it and the
reference recording it was made from (bounded, least recently used first out). A request whose
prompt the chosen provider's engine did not make is then given a prompt re-created from that
recording on that engine, once, and cached. Prompts the pool did not create are recognised by
their self-description (an ``engine`` or ``kind`` member, as the kit's backends write), learned
per engine as providers create and refuse them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["PromptStore", "Reference", "StoredPrompt", "fingerprint", "prompt_tag"]

DEFAULT_CAPACITY: Final = 64


def prompt_tag(prompt: Mapping[str, Any]) -> str | None:
    """The engine a prompt says it is from (``engine``, else ``kind``), when it says."""
    for member in ("engine", "kind"):
        value = prompt.get(member)
        if isinstance(value, str) and value:
            return value
    return None


def fingerprint(prompt: Mapping[str, Any]) -> str:
    canonical = json.dumps(prompt, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Reference:
    audio: bytes
    text: str
    filename: str
    content_type: str | None


@dataclass
class StoredPrompt:
    reference: Reference
    by_engine: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The prompt for each engine it exists on, the original included."""


class PromptStore:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, StoredPrompt] = OrderedDict()
        self._lock = threading.Lock()
        self.accepted: dict[str, set[str]] = {}
        """Engine -> prompt tags its providers created or accepted."""
        self.refused: dict[str, set[str]] = {}
        """Engine -> prompt tags its providers refused."""

    def remember(self, prompt: dict[str, Any], engine: str, reference: Reference) -> None:
        entry = StoredPrompt(reference, {engine: prompt})
        with self._lock:
            self._put(fingerprint(prompt), entry)
        self.learn(engine, prompt, accepted=True)

    def lookup(self, prompt: Mapping[str, Any]) -> StoredPrompt | None:
        key = fingerprint(prompt)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def add_translation(self, entry: StoredPrompt, engine: str, prompt: dict[str, Any]) -> None:
        with self._lock:
            entry.by_engine[engine] = prompt
            self._put(fingerprint(prompt), entry)
        self.learn(engine, prompt, accepted=True)

    def learn(self, engine: str, prompt: Mapping[str, Any], *, accepted: bool) -> None:
        tag = prompt_tag(prompt)
        if tag is None:
            return
        with self._lock:
            (self.accepted if accepted else self.refused).setdefault(engine, set()).add(tag)

    def verdict(self, engine: str | None, prompt: Mapping[str, Any]) -> bool | None:
        """True: ``engine`` takes this prompt; False: it does not; None: not known."""
        tag = prompt_tag(prompt)
        if engine is None or tag is None:
            return None
        with self._lock:
            if tag in self.accepted.get(engine, ()):
                return True
            if tag in self.refused.get(engine, ()):
                return False
            return None

    def _put(self, key: str, entry: StoredPrompt) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
