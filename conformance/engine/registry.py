"""The catalogue: one check function per SPEC.md clause, keyed by the clause ID."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from conformance.engine.outcome import Evidence
from conformance.engine.spec import Clause, clause

if TYPE_CHECKING:
    from conformance.engine.session import Session

__all__ = ["Check", "CheckFunction", "check", "registered"]

CheckFunction = Callable[["Session"], Evidence | None]
F = TypeVar("F", bound=CheckFunction)

_CATALOGUE: dict[str, Check] = {}


@dataclass(frozen=True)
class Check:
    clause: Clause
    function: CheckFunction

    @property
    def id(self) -> str:
        return self.clause.id

    @property
    def name(self) -> str:
        return self.function.__name__


def check(clause_id: str) -> Callable[[F], F]:
    """Register ``function`` as the one check of ``clause_id``."""

    def register(function: F) -> F:
        if clause_id in _CATALOGUE:
            other = _CATALOGUE[clause_id].name
            raise ValueError(f"{clause_id} already has a check: {other}")
        _CATALOGUE[clause_id] = Check(clause(clause_id), function)
        return function

    return register


def registered() -> dict[str, Check]:
    """Every registered check, in SPEC.md order."""
    from conformance.engine.spec import clauses

    order = {c.id: index for index, c in enumerate(clauses())}
    return dict(sorted(_CATALOGUE.items(), key=lambda item: order[item[0]]))
