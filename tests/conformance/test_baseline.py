"""Known-failures baselines: parsing, expiry, and precise errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from conformance.engine.baseline import BaselineError, load_baseline

KNOWN = {"GEN-8", "AUD-6"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baseline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_active_entry_excuses_its_clause_until_it_expires(tmp_path: Path) -> None:
    path = _write(
        tmp_path, '[[known_failure]]\nid = "GEN-8"\nreason = "cuDNN"\nexpires = 2027-01-31\n'
    )
    baseline = load_baseline(path, KNOWN)
    assert baseline.excuse("GEN-8", date(2027, 1, 31)) is not None
    assert baseline.excuse("GEN-8", date(2027, 2, 1)) is None
    assert baseline.excuse("AUD-6", date(2026, 1, 1)) is None
    assert [e.id for e in baseline.expired(date(2027, 2, 1))] == ["GEN-8"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[known_failure]]\nid = "NOPE-1"\nreason = "x"\nexpires = 2027-01-01\n', "clause ID"),
        ('[[known_failure]]\nid = "GEN-8"\nreason = " "\nexpires = 2027-01-01\n', "reason"),
        ('[[known_failure]]\nid = "GEN-8"\nreason = "x"\nexpires = "soon"\n', "TOML date"),
        ('known_failure = "GEN-8"\n', "array of tables"),
        ("[[known_failure\n", "cannot read"),
    ],
)
def test_malformed_baselines_name_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        load_baseline(_write(tmp_path, text), KNOWN)
