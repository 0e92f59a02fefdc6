"""How a check reports anything other than a plain pass.

A check is a function of the session. It returns ``Evidence`` (or None) when the requirement
holds and raises one of these otherwise. The runner turns them into verdicts according to the
clause's level: ``Failed`` is FAIL for a MUST and NON-STRICT for a SHOULD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

Exchange = httpx.Response | httpx.Request
"""The HTTP exchange that shows an outcome: a response (it knows its request) or a request
that got no response."""

__all__ = ["Blocked", "Evidence", "Exchange", "Failed", "Info", "NotApplicable", "Unimplemented"]


@dataclass
class Evidence:
    """What a passing check saw, for the report."""

    facts: dict[str, Any] = field(default_factory=dict)
    exchange: Exchange | None = None


class CheckOutcome(Exception):
    """Base of the outcomes a check raises."""


class Failed(CheckOutcome):
    """The requirement is broken: Expected vs Actual, and the exchange that shows it."""

    def __init__(
        self,
        expected: str,
        actual: str,
        exchange: Exchange | None = None,
        **facts: Any,
    ) -> None:
        super().__init__(f"expected {expected}; actual {actual}")
        self.expected = expected
        self.actual = actual
        self.exchange = exchange
        self.facts = facts


class NotApplicable(CheckOutcome):
    """The check cannot run with these options; ``enable`` says how to run it (SKIPPED)."""

    def __init__(self, reason: str, enable: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.enable = enable


class Blocked(CheckOutcome):
    """A prerequisite owned by another clause failed, so this one cannot be judged (SKIPPED)."""

    def __init__(self, clause_id: str, reason: str) -> None:
        super().__init__(f"blocked by {clause_id}: {reason}")
        self.clause_id = clause_id
        self.reason = reason


class Unimplemented(CheckOutcome):
    """The provider declares that it lacks the optional capability this clause needs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Info(CheckOutcome):
    """A MAY clause's observation, reported as INFO."""

    def __init__(self, message: str, exchange: Exchange | None = None, **facts: Any) -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange
        self.facts = facts
