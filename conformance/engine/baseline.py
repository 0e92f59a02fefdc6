"""Known-failures baselines: FAILs a provider author has accepted for now, each with an expiry.

A baseline is a TOML file::

    [[known_failure]]
    id = "GEN-8"
    reason = "cuDNN kernels are not bit-reproducible; tracked in #12"
    expires = 2027-01-31

A listed FAIL still shows as FAIL in the report, marked known, but does not fail the run until
its expiry date has passed. An expired entry no longer excuses anything and is reported, so a
baseline cannot silently outlive its reason.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

__all__ = ["Baseline", "BaselineError", "KnownFailure", "load_baseline"]


class BaselineError(ValueError):
    """The baseline file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class KnownFailure:
    id: str
    reason: str
    expires: date

    def active(self, today: date) -> bool:
        return today <= self.expires


@dataclass(frozen=True)
class Baseline:
    entries: tuple[KnownFailure, ...] = ()

    def excuse(self, clause_id: str, today: date) -> KnownFailure | None:
        """The active entry that excuses a FAIL of ``clause_id``, if any."""
        for entry in self.entries:
            if entry.id == clause_id and entry.active(today):
                return entry
        return None

    def expired(self, today: date) -> tuple[KnownFailure, ...]:
        return tuple(entry for entry in self.entries if not entry.active(today))


def load_baseline(path: Path, known_ids: set[str]) -> Baseline:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc}") from None
    raw_entries = document.get("known_failure", [])
    if not isinstance(raw_entries, list):
        raise BaselineError("`known_failure` must be an array of tables ([[known_failure]])")
    return Baseline(tuple(_entry(i, raw, known_ids) for i, raw in enumerate(raw_entries, 1)))


def _entry(number: int, raw: object, known_ids: set[str]) -> KnownFailure:
    where = f"known_failure #{number}"
    if not isinstance(raw, dict):
        raise BaselineError(f"{where} must be a table")
    clause_id, reason, expires = raw.get("id"), raw.get("reason"), raw.get("expires")
    if not isinstance(clause_id, str) or clause_id not in known_ids:
        raise BaselineError(f"{where}: `id` must be a SPEC.md clause ID, got {clause_id!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise BaselineError(f"{where} ({clause_id}): `reason` must be a non-empty string")
    if not isinstance(expires, date):
        raise BaselineError(f"{where} ({clause_id}): `expires` must be a TOML date (2027-01-31)")
    return KnownFailure(clause_id, reason.strip(), expires)
