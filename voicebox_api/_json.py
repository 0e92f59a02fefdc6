"""RFC 8259 JSON: Python's ``json`` also accepts ``NaN`` and ``Infinity``, which are not JSON."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["strict_json"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def strict_json(text: str | bytes) -> Any:
    """Parse a body as RFC 8259 JSON; ``ValueError`` for anything else, NaN included."""
    return json.loads(text, parse_constant=_reject_constant)
