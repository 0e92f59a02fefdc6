"""Whether the provider serves an endpoint it does not declare, found with one cheap request.

A SKIPPED that hides a served endpoint is a blind spot: a provider without ``capabilities``
that answers ``/v1/transcribe`` is checked like one that declares it, and the verdict says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from conformance.engine.session import Session
    from voicebox_api import AuthMode

ABSENT: Final = frozenset({404, 405})


def serves_undeclared(s: Session, path: str, *, auth: AuthMode) -> bool:
    """An empty POST: 404 or 405 means absent, any other answer (400, 415, 422...) present.
    When present, the running check's verdict notes that it was found by probing."""
    served: bool = s.memo(
        f"probe:{path}", lambda: s.send("POST", path, auth=auth).status_code not in ABSENT
    )
    if served:
        s.note(f"{path} is served but not declared in /health capabilities (found by probing)")
    return served
