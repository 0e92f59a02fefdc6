"""Checks that a Markdown document is well formed as GitHub reads it, with a real parser.

``markdown-it-py`` in CommonMark mode with GFM tables parses the text; the checks then look at
its tokens: every table has as many cells in each row as in its header (GFM would silently pad
or drop them), every line that looks like a table separator did become a table, every image
resolves to a file beside the report, and ``<details>`` blocks open and close in balance, each
as its own HTML block (GitHub renders Markdown inside them only then).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

_SEPARATOR = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+\s*$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Parsed:
    text: str
    tokens: list[Token]

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def parse(text: str) -> Parsed:
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return Parsed(text, parser.parse(text))


def _cells(line: str) -> int:
    inner = line.strip()
    inner = inner.removeprefix("|").removesuffix("|")
    # Pipes inside code spans must be escaped in GFM too, so counting unescaped pipes is exact.
    return len(_UNESCAPED_PIPE.split(inner))


def table_problems(parsed: Parsed) -> list[str]:
    problems = []
    tables = [t for t in parsed.tokens if t.type == "table_open"]
    separators = [i for i, line in enumerate(parsed.lines) if _SEPARATOR.match(line.strip())]
    if len(tables) != len(separators):
        problems.append(f"{len(separators)} separator lines but {len(tables)} parsed tables")
    for token in tables:
        assert token.map is not None
        start, end = token.map
        rows = parsed.lines[start:end]
        widths = {_cells(row) for row in rows}
        if len(widths) != 1:
            problems.append(f"table at line {start + 1}: rows with {sorted(widths)} cells")
    return problems


def parsed_table_shapes(parsed: Parsed) -> list[list[int]]:
    """Per table, the number of cells the parser saw in each row."""
    shapes: list[list[int]] = []
    for token in parsed.tokens:
        if token.type == "table_open":
            shapes.append([])
        elif token.type == "tr_open":
            shapes[-1].append(0)
        elif token.type in ("th_open", "td_open"):
            shapes[-1][-1] += 1
    return shapes


def images(parsed: Parsed) -> list[str]:
    found = []
    for token in parsed.tokens:
        for child in token.children or []:
            if child.type == "image":
                found.append(str(child.attrs["src"]))
    return found


def details_problems(parsed: Parsed) -> list[str]:
    problems = []
    depth = 0
    for token in parsed.tokens:
        if token.type == "html_inline" and "details" in token.content:
            problems.append(f"inline <details> tag: {token.content!r}")
        if token.type != "html_block":
            continue
        opened = len(re.findall(r"<details[ >]", token.content))
        closed = token.content.count("</details>")
        depth += opened - closed
        if depth < 0:
            problems.append(f"</details> without <details> at line {token.map}")
            depth = 0
        if opened and "<summary>" not in token.content:
            problems.append(f"<details> without <summary> at line {token.map}")
    if depth:
        problems.append(f"{depth} <details> never closed")
    return problems


def all_problems(text: str, folder: Path) -> list[str]:
    parsed = parse(text)
    problems = table_problems(parsed) + details_problems(parsed)
    for shape in parsed_table_shapes(parsed):
        if len(set(shape)) != 1:
            problems.append(f"parsed table with uneven rows: {shape}")
    for source in images(parsed):
        if not (folder / source).is_file():
            problems.append(f"image {source} does not exist in {folder}")
    return problems
