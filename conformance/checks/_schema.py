"""One judge of the contract: the checks validate bodies through the protocol's pydantic models,
as the client does, and each field error goes to the clause that owns that field.

Like Schemathesis, which validates a response against the schema and names the operation and
the keyword that failed, a check here reads only its own clause's errors, so one defect is
reported once, by its owner, and the models stay the single source of every body's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from voicebox_api import ErrorBody, GenerateResponse, HealthResponse

__all__ = [
    "error_body_errors",
    "generate_errors",
    "health_errors",
]

Owner = Callable[[ErrorDetails], str]
_PREVIEW = 60


def errors_by_clause(model: type[BaseModel], body: Any, owner: Owner) -> dict[str, list[str]]:
    """``model``'s validation errors of ``body``, each described and filed under its clause."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        filed: dict[str, list[str]] = {}
        for error in exc.errors(include_url=False):
            filed.setdefault(owner(error), []).append(describe(error))
        return filed
    return {}


def describe(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "body"
    given = repr(error.get("input"))
    given = given if len(given) <= _PREVIEW else given[:_PREVIEW] + "…"
    return f"{where}: {error['msg']} (got {given})"


def _field(error: ErrorDetails) -> str | None:
    return str(error["loc"][0]) if error["loc"] else None


def _wrong_value_of_right_type(error: ErrorDetails, kind: type) -> bool:
    value = error.get("input")
    return isinstance(value, kind) and not isinstance(value, bool)


def _health_owner(error: ErrorDetails) -> str:
    """HLT-1 owns the members' presence and types, HLT-2 the status values, HLT-3 the
    capabilities, VER-1 the version's form."""
    field = _field(error)
    if field == "capabilities":
        return "HLT-3"
    if field == "api_version":
        return "VER-1"
    if field == "status" and _wrong_value_of_right_type(error, str):
        return "HLT-2"
    return "HLT-1"


def _generate_owner(error: ErrorDetails) -> str:
    """GEN-2 owns the members and their JSON types; AUD-2 the dtype's value, AUD-5 the rate's."""
    field = _field(error)
    if field == "dtype" and _wrong_value_of_right_type(error, str):
        return "AUD-2"
    if field == "sample_rate" and _wrong_value_of_right_type(error, int):
        return "AUD-5"
    return "GEN-2"


def health_errors(body: Any) -> dict[str, list[str]]:
    return errors_by_clause(HealthResponse, body, _health_owner)


def generate_errors(body: Any) -> dict[str, list[str]]:
    return errors_by_clause(GenerateResponse, body, _generate_owner)


def error_body_errors(body: Any) -> dict[str, list[str]]:
    return errors_by_clause(ErrorBody, body, lambda error: "ERR-1")
