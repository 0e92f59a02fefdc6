"""The one error every judge raises when it cannot run here."""

from __future__ import annotations

__all__ = ["JudgeUnavailable"]


class JudgeUnavailable(RuntimeError):
    """A judge cannot run here (a package, a model or a key is missing); its checks skip.

    ``install_hint`` tells the user what to install or set to enable it.
    """

    def __init__(self, message: str, *, install_hint: str) -> None:
        super().__init__(f"{message}; {install_hint}")
        self.install_hint = install_hint
