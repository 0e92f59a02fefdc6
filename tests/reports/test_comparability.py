"""When a provider run and a reference run are shown comparable, and when they are not."""

from __future__ import annotations

from typing import Any

from benchmarks.results import RunResult
from reports.comparability import SESSION_GAP_S, assess
from reports.inputs import load_inputs
from tests.reports.conftest import fixture_paths
from tests.reports.make_fixtures import REFERENCE_URL


def _run(name: str) -> RunResult:
    return load_inputs(fixture_paths((name,))).runs[0].document


def _local(run: RunResult, **provenance: Any) -> RunResult:
    """The run as if its server answered on loopback, with provenance changes."""
    changed = run.provenance.model_copy(update={"target": REFERENCE_URL, **provenance})
    return run.model_copy(update={"provenance": changed})


def _pair() -> tuple[RunResult, RunResult]:
    provider = _local(_run("run-provider-2.json"))
    reference = _run("run-reference-2.json")
    return provider, reference


def test_two_local_runs_one_after_the_other_are_comparable() -> None:
    provider, reference = _pair()
    verdict = assess(provider, reference)
    assert verdict.comparable, [f.text for f in verdict.findings()]
    assert "one machine" in verdict.machine.text
    assert "bench-laptop" in verdict.machine.text


def test_overlapping_runs_are_not_comparable() -> None:
    provider, reference = _pair()
    overlapping = _local(
        provider,
        started_at=reference.provenance.started_at + 1,
        ended_at=reference.provenance.ended_at + 1,
    )
    verdict = assess(overlapping, reference)
    assert verdict.session.ok is False
    assert "overlapped" in verdict.session.text
    assert not verdict.comparable


def test_runs_hours_apart_are_not_one_session() -> None:
    provider, reference = _pair()
    late = reference.provenance.ended_at + SESSION_GAP_S + 3600
    later = _local(provider, started_at=late, ended_at=late + 20)
    verdict = assess(later, reference)
    assert verdict.session.ok is False
    assert "h passed between the runs" in verdict.session.text


def test_different_load_settings_are_named() -> None:
    provider, reference = _pair()
    config = provider.config.model_copy(update={"scheduled_rate_rps": 4.0})
    faster = provider.model_copy(update={"config": config})
    verdict = assess(faster, reference)
    assert verdict.load.ok is False
    assert "scheduled_rate_rps: 4.0 vs 2.0" in verdict.load.text


def test_a_different_client_machine_is_not_the_same_machine() -> None:
    provider, reference = _pair()
    client = provider.provenance.client.model_copy(update={"hostname": "other-laptop"})
    verdict = assess(_local(provider, client=client), reference)
    assert verdict.machine.ok is False
    assert "different load-generating machines" in verdict.machine.text


def test_a_remote_server_without_snapshots_is_a_different_host() -> None:
    provider = _run("run-provider-2.json")
    reference = _run("run-reference-2.json")
    verdict = assess(provider, reference)
    assert verdict.machine.ok is False
    assert "different hosts" in verdict.machine.text


def test_two_remote_targets_on_one_host_cannot_be_told_apart() -> None:
    provider = _run("run-provider-2.json")
    reference = _run("run-reference-2.json")
    same_host = reference.provenance.model_copy(update={"target": provider.provenance.target})
    verdict = assess(provider, reference.model_copy(update={"provenance": same_host}))
    assert verdict.machine.ok is None
    assert verdict.machine.mark == "❔"


def test_an_invalid_run_is_never_comparable() -> None:
    provider, reference = _pair()
    invalid = provider.validity.model_copy(update={"valid": False, "reasons": ["too short"]})
    verdict = assess(provider.model_copy(update={"validity": invalid}), reference)
    assert verdict.validity.ok is False
    assert verdict.validity.text == "the provider run is INVALID"
