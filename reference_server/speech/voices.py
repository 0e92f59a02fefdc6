"""Named voices: a small built-in set, each a bundled reference recording made into a voice
prompt by the server's own backend the first time it is asked for."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

from conformance.engine.references import ReferenceClip, reference_voices

__all__ = ["VOICE_NAMES", "NamedVoices", "UnknownVoiceError"]

MakePrompt = Callable[[ReferenceClip], Awaitable[dict[str, Any]]]

VOICE_NAMES: Final = {"alloy": 0, "echo": 1}
"""OpenAI's names for the kit's bundled references A (a low voice) and B (a high voice)."""


class UnknownVoiceError(KeyError):
    pass


class NamedVoices:
    def __init__(self) -> None:
        self._prompts: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()

    @staticmethod
    def names() -> list[str]:
        return sorted(VOICE_NAMES)

    @staticmethod
    def clip(name: str) -> ReferenceClip:
        index = VOICE_NAMES.get(name.lower())
        if index is None:
            raise UnknownVoiceError(name)
        return reference_voices()[index]

    async def prompt(self, name: str, make: MakePrompt) -> dict[str, Any]:
        clip = self.clip(name)
        async with self._lock:
            if clip.name not in self._prompts:
                self._prompts[clip.name] = await make(clip)
            return self._prompts[clip.name]
