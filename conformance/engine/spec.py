"""SPEC.md's requirements as data: the ID, level and sentence of every clause.

SPEC.md is the single source of the requirement text. In a source checkout it is read from the
repository root; an installed wheel carries a copy inside this package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

__all__ = ["Clause", "Level", "clause", "clauses", "spec_path"]

_CLAUSE_LINE = re.compile(
    r"^- \*\*(?P<id>[A-Z]+-\d+)\*\* · (?P<level>MUST|SHOULD|MAY) · (?P<text>.+)$"
)
_SECTION_LINE = re.compile(r"^#{2,3} (?P<title>.+)$")


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


@dataclass(frozen=True)
class Clause:
    id: str
    level: Level
    text: str
    section: str

    def __str__(self) -> str:
        return f"{self.id} ({self.level}): {self.text}"


def spec_path() -> Path:
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "SPEC.md", package.parent / "SPEC.md"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("SPEC.md is neither inside the conformance package nor beside it")


def parse(markdown: str) -> tuple[Clause, ...]:
    """Every clause line of a SPEC.md text, in document order."""
    found: list[Clause] = []
    section = ""
    for line in markdown.splitlines():
        if heading := _SECTION_LINE.match(line):
            section = heading["title"]
        elif match := _CLAUSE_LINE.match(line):
            text = match["text"].replace("`", "")
            found.append(Clause(match["id"], Level(match["level"]), text, section))
    ids = [c.id for c in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"SPEC.md defines these IDs more than once: {', '.join(duplicates)}")
    return tuple(found)


@cache
def clauses() -> tuple[Clause, ...]:
    return parse(spec_path().read_text(encoding="utf-8"))


def clause(clause_id: str) -> Clause:
    for candidate in clauses():
        if candidate.id == clause_id:
            return candidate
    raise KeyError(f"SPEC.md has no clause {clause_id}")
