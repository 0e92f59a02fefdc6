"""CON-1 picks its comparison from GEN-8's pair, and only a missing pair makes it loose."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.checks.concurrency import seeds_are_deterministic
from conformance.engine.outcome import Blocked
from voicebox_api import Capabilities


class _Session:
    def __init__(self, audio: Any) -> None:
        self._audio = audio

    def capabilities(self) -> Capabilities:
        return Capabilities()

    def audio(self, key: str) -> Any:
        return self._audio(key)


def test_a_blocked_pair_means_loose_comparison() -> None:
    def blocked(key: str) -> Any:
        raise Blocked("GEN-1", "no generation")

    assert seeds_are_deterministic(_Session(blocked)) is False  # type: ignore[arg-type]


def test_the_kits_own_bug_is_not_taken_for_nondeterminism() -> None:
    def broken(key: str) -> Any:
        raise AttributeError("a bug in the kit")

    with pytest.raises(AttributeError):
        seeds_are_deterministic(_Session(broken))  # type: ignore[arg-type]
