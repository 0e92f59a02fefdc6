"""GitHub-flavoured Markdown for the report: the suite's builders (``conformance``), and the
report's own (counts, images, alerts).
"""

from __future__ import annotations

from collections.abc import Sequence

from conformance import bold, cell, clause_id, code, code_block, details, readable_json, table

__all__ = [
    "alert",
    "bold",
    "cell",
    "clause_id",
    "code",
    "code_block",
    "count",
    "details",
    "image",
    "readable_json",
    "table",
]


def count(number: int, noun: str) -> str:
    """``1 error``, ``2 errors``: a number with its noun, in the right number."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def image(alt: str, path: str) -> str:
    return f"![{cell(alt).replace('[', '(').replace(']', ')')}]({path})"


def alert(kind: str, lines: Sequence[str]) -> list[str]:
    """A GitHub alert (``> [!WARNING]``); other renderers show it as a plain quote."""
    return [f"> [!{kind.upper()}]", *(f"> {line}" if line else ">" for line in lines)]
