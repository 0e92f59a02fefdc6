"""The robustness level is off unless asked for: it sends hostile traffic."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from conformance.checks import registered
from conformance.engine.options import SuiteOptions
from conformance.engine.outcome import NotApplicable
from conformance.engine.spec import clauses


def test_the_level_is_off_by_default() -> None:
    assert SuiteOptions(provider_url="http://x").robustness is False
    assert SuiteOptions(provider_url="http://x", robustness=True).redacted()["robustness"]


@pytest.mark.parametrize("clause_id", [c.id for c in clauses() if c.id.startswith("ROB-")])
def test_each_robustness_check_sends_nothing_when_off(clause_id: str) -> None:
    sent: list[Any] = []
    session = SimpleNamespace(
        options=SuiteOptions(provider_url="http://x"),
        send=lambda *a, **k: sent.append(a),
        upload_prompt=lambda *a, **k: sent.append(a),
    )
    with pytest.raises(NotApplicable) as skipped:
        registered()[clause_id].function(session)  # type: ignore[arg-type]
    assert skipped.value.enable is not None
    assert "--conformance-robustness" in skipped.value.enable
    assert not sent


def test_there_are_four_clauses_in_their_own_section() -> None:
    robustness = [c for c in clauses() if c.id.startswith("ROB-")]
    assert [c.id for c in robustness] == ["ROB-1", "ROB-2", "ROB-3", "ROB-4"]
    assert {c.section for c in robustness} == {"16. Robustness under hostile traffic (opt-in)"}
