"""Small builders for GitHub-flavoured Markdown: tables, collapsible sections and code.

Hand-written rather than templated: the record and the report are mostly tables whose cells need
the same escaping everywhere, and a function per construct keeps that escaping in one place.
``conformance.md`` and ``python -m reports`` both build on these.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence

__all__ = [
    "bold",
    "cell",
    "clause_id",
    "code",
    "code_block",
    "details",
    "readable_json",
    "table",
]

_WHITESPACE = re.compile(r"\s+")
_BACKTICK_RUN = re.compile(r"`+")
# A JSON list that holds no object or list: "[\n  1,\n  2\n ]" (strings may not hold brackets).
_SCALAR_LIST = re.compile(r'\[((?:\s*(?:"(?:[^"\\\[\]{}]|\\.)*"|[-\w.+]+),?)+\s*)\]')


def cell(value: object, limit: int | None = None) -> str:
    """Text safe inside a table cell: one line, pipes and HTML escaped, optionally shortened."""
    text = _WHITESPACE.sub(" ", "" if value is None else str(value)).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return html.escape(text, quote=False).replace("|", "\\|")


def code(value: object) -> str:
    """Inline code that survives any backticks inside it (and a table's pipes)."""
    text = _WHITESPACE.sub(" ", str(value)).strip().replace("|", "\\|")
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def bold(text: str) -> str:
    return f"**{text}**"


def clause_id(identifier: str) -> str:
    """A clause ID in bold that a narrow table column does not break at its hyphen.

    A WORD JOINER (U+2060) after the hyphen forbids the break (UAX #14, LB11); it is invisible
    and find-in-page ignores it.
    """
    return bold(identifier.replace("-", "-\u2060"))  # U+2060 WORD JOINER


def table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A GFM table; cells must already be escaped (see :func:`cell`).

    ``align`` has one letter per column, ``l``, ``r`` or ``c``; missing letters mean left.
    """
    rules = {"l": "---", "r": "---:", "c": ":---:"}
    separator = [rules[align[i]] if i < len(align) else "---" for i in range(len(header))]
    lines = [_row(header), _row(separator)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells, the header {len(header)}")
        lines.append(_row(row))
    return lines


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c if c else " " for c in cells) + " |"


def details(summary: str, body: Sequence[str], *, open_: bool = False) -> list[str]:
    """A collapsible section. ``summary`` is plain text (escaped here); ``body`` is Markdown.

    GitHub renders Markdown inside ``<details>`` only after a blank line, hence the spacing.
    """
    tag = "<details open>" if open_ else "<details>"
    return [
        tag,
        f"<summary>{html.escape(summary, quote=False)}</summary>",
        "",
        *body,
        "",
        "</details>",
    ]


def code_block(text: str, language: str = "") -> list[str]:
    """A fenced block whose fence is longer than any backtick run in ``text``."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, *text.splitlines(), fence]


def readable_json(value: object) -> str:
    """Indented JSON whose lists of plain values stay on one line, so that a list of twenty
    language codes takes one line, not twenty."""
    text = json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True, default=str)
    return _SCALAR_LIST.sub(lambda m: "[" + ", ".join(_split_scalars(m[1])) + "]", text)


def _split_scalars(body: str) -> list[str]:
    return [line.strip().rstrip(",") for line in body.strip().splitlines()]
