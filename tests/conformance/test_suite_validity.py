"""The conformance suite proves itself.

It passes the reference server; each check catches a provider broken in exactly that way and
nothing else FAILs; and reruns give the same verdicts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.checks import registered
from conformance.engine.record import CaseResult, Verdict
from conformance.engine.spec import Level, clauses
from tests.conformance.mutants import Mutant, mutants
from tests.conformance.provider import failures, provider, run_suite

pytestmark = [pytest.mark.slow, pytest.mark.judges]

ACCEPTABLE_FOR_A_CORRECT_PROVIDER = {
    Verdict.PASS,
    Verdict.SKIPPED,
    Verdict.UNIMPLEMENTED,
    Verdict.INFO,
}
CATALOGUE = mutants(Path("/nonexistent"))


@pytest.fixture(scope="module")
def upload_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("uploads")
    (directory / "race").mkdir()
    (directory / "traverse").mkdir()
    return directory


@pytest.fixture(scope="module")
def correct_provider() -> Iterator[str]:
    with provider() as url:
        yield url


@pytest.fixture(scope="module")
def baseline(correct_provider: str) -> dict[str, CaseResult]:
    return run_suite(correct_provider)


def test_every_clause_has_one_check_and_one_mutant() -> None:
    ids = [c.id for c in clauses()]
    assert list(registered()) == ids
    assert sorted(CATALOGUE) == sorted(ids)


def test_the_reference_server_passes(baseline: dict[str, CaseResult]) -> None:
    unexpected = {
        k: f"{v.verdict.value}: {v.reason}"
        for k, v in baseline.items()
        if v.verdict not in ACCEPTABLE_FOR_A_CORRECT_PROVIDER
    }
    assert not unexpected
    skipped = {k: v.reason for k, v in baseline.items() if v.verdict is Verdict.SKIPPED}
    assert not skipped, "every case should run against the fully configured reference server"


def test_reruns_give_the_same_verdicts(
    correct_provider: str, baseline: dict[str, CaseResult]
) -> None:
    again = run_suite(correct_provider)
    assert {k: v.verdict for k, v in again.items()} == {k: v.verdict for k, v in baseline.items()}


@pytest.mark.parametrize("clause_id", [c.id for c in clauses()])
def test_each_check_catches_its_mutant(
    clause_id: str, upload_dir: Path, baseline: dict[str, CaseResult]
) -> None:
    catalogue = mutants(upload_dir)
    mutant: Mutant = catalogue[clause_id]
    with provider(mutant.rewrite(), **mutant.config) as url:
        results = run_suite(url)
    level = results[clause_id].level
    caught = results[clause_id]
    if level == Level.MAY:
        assert caught.verdict is Verdict.INFO
        assert caught.evidence != baseline[clause_id].evidence, (
            f"{clause_id}'s INFO does not change for a provider that {mutant.defect}"
        )
    else:
        expected = Verdict.FAIL if level == Level.MUST else Verdict.NON_STRICT
        assert caught.verdict is expected, (
            f"{clause_id} should be {expected.value} for a provider that {mutant.defect}; "
            f"got {caught.verdict.value}: {caught.reason}"
        )
    collateral = {
        k: v
        for k, v in failures(results).items()
        if k != clause_id and results[k].verdict is Verdict.FAIL
    }
    assert not collateral, f"a provider that {mutant.defect} also FAILs {collateral}"
