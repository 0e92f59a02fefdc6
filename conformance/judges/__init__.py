"""Offline judges: models that listen to generated audio (SPEC.md §9). Optional: they need the
``judges`` extra, and the conformance core never imports them unless asked."""

from __future__ import annotations

__all__ = ["JudgeUnavailable"]


class JudgeUnavailable(RuntimeError):
    """A judge's packages or weights are missing; ``install_hint`` says how to get them."""

    def __init__(self, message: str, install_hint: str) -> None:
        super().__init__(f"{message}; install with: {install_hint}")
        self.install_hint = install_hint
