"""The in-process engine a pool falls back to when no remote provider can answer.

The protocol package cannot import an engine (the reference server's espeak backend sits above
it), so a caller adapts whatever engine it has to :class:`LocalEngine` and passes it to the
pool. The engine answers with the same body a provider would (:class:`GenerateResponse`), so its
audio goes through the same codec checks as a remote provider's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol, runtime_checkable

from voicebox_api._models import GenerateResponse

__all__ = ["LocalEngine"]


@runtime_checkable
class LocalEngine(Protocol):
    name: str
    """Its name in the pool's usage figures and results (``local:<name>``)."""
    languages: Collection[str]
    """ISO 639-1 codes it speaks; empty: any."""

    def accepts(self, voice_prompt: Mapping[str, Any]) -> bool:
        """Whether ``voice_prompt`` is one of its own (else the pool re-creates it)."""
        ...

    def create_voice_prompt(self, audio: bytes, reference_text: str) -> dict[str, Any]: ...

    def generate(
        self, text: str, voice_prompt: Mapping[str, Any], language: str, seed: int | None
    ) -> GenerateResponse: ...
