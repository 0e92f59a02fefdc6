"""The pytest plugin as a provider author uses it: ``pytest --provider-url=URL`` from an empty
directory, its exit codes, its report files, and how it works with -k, --junitxml and xdist."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.engine.record import ConformanceRecord, Verdict
from tests.conformance.mutants import mutants
from tests.conformance.provider import API_KEY, provider
from tests.conformance.pytest_run import run_pytest
from tests.conformance.rewrite import Exchange, Rewrite

pytestmark = pytest.mark.slow

FAST = ["--asr-judge", "none", "--speaker-judge", "none", "-p", "no:cacheprovider"]


@pytest.fixture(scope="module")
def correct() -> Iterator[str]:
    with provider(whisper="none") as url:
        yield url


@pytest.fixture(scope="module")
def wrong_dtype(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    mutant = mutants(tmp_path_factory.mktemp("uploads"))["AUD-2"]
    with provider(mutant.rewrite(), whisper="none") as url:
        yield url


@pytest.fixture(scope="module")
def nondeterministic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    mutant = mutants(tmp_path_factory.mktemp("uploads"))["GEN-8"]
    with provider(mutant.rewrite(), whisper="none") as url:
        yield url


def test_a_correct_provider_passes_from_an_empty_directory(correct: str, tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = run_pytest(
        tmp_path,
        "--provider-url",
        correct,
        "--provider-api-key",
        API_KEY,
        "--conformance-report",
        str(report),
        *FAST,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "voicebox conformance (SPEC.md v0.2)" in result.stdout
    assert "UNIMPLEMENTED" in result.stdout  # the provider declares no transcription
    record = ConformanceRecord.model_validate_json((report / "conformance.json").read_text())
    assert record.passed
    assert record.provenance.provider_health
    assert record.provenance.provider_health["model"]
    assert record.requests.total > 0
    assert record.requests.generate_calls > 0
    assert {c.id for c in record.cases} >= {"GEN-1", "AUD-7", "TRN-1", "OAI-1"}
    skipped = {c.id: c for c in record.cases if c.verdict is Verdict.SKIPPED}
    assert skipped["INT-1"].enable_hint
    assert "judges" in skipped["INT-1"].enable_hint
    assert "--conformance-robustness" in (skipped["ROB-1"].enable_hint or "")  # opt-in level
    for name in ("conformance.json", "conformance.md"):
        assert API_KEY not in (report / name).read_text()
    assert API_KEY not in result.stdout


def test_a_broken_must_fails_the_run_and_says_how_to_reproduce(
    wrong_dtype: str, tmp_path: Path
) -> None:
    result = run_pytest(
        tmp_path, "--provider-url", wrong_dtype, "--provider-api-key", API_KEY, *FAST
    )
    assert result.returncode == 1
    out = result.stdout
    assert "AUD-2 (MUST) [FAIL]" in out
    assert "Requirement: dtype is one of int16, int32, float32 and float64." in out
    assert "Expected: dtype one of int16, int32, float32, float64" in out
    assert "Actual:   walk-A: 'float'" in out
    assert "curl -i http://127.0.0.1" in out
    assert "X-API-Key: ***" in out
    assert API_KEY not in out


def test_a_missed_should_fails_only_in_strict_mode(nondeterministic: str, tmp_path: Path) -> None:
    args = ["--provider-url", nondeterministic, "--provider-api-key", API_KEY, *FAST]
    lenient = run_pytest(tmp_path, *args)
    assert lenient.returncode == 0, lenient.stdout[-3000:]
    assert "NON-STRICT" in lenient.stdout
    assert "non-strict" in lenient.stdout.splitlines()[-1]
    strict = run_pytest(tmp_path, *args, "--strict-conformance", "--case", "GEN-8")
    assert strict.returncode == 1
    assert "GEN-8 (SHOULD) [NON-STRICT]" in strict.stdout


def test_a_known_failure_is_excused_until_it_expires(wrong_dtype: str, tmp_path: Path) -> None:
    baseline = tmp_path / "known.toml"
    args = [
        "--provider-url",
        wrong_dtype,
        "--provider-api-key",
        API_KEY,
        "--case",
        "AUD-*",
        "--known-failures",
        str(baseline),
        *FAST,
    ]
    baseline.write_text(
        '[[known_failure]]\nid = "AUD-2"\nreason = "fixing the dtype label"\nexpires = 2999-01-01\n'
    )
    excused = run_pytest(tmp_path, *args)
    assert excused.returncode == 0, excused.stdout[-3000:]
    assert "1 xfailed" in excused.stdout
    baseline.write_text(baseline.read_text().replace("2999-01-01", "2020-01-01"))
    expired = run_pytest(tmp_path, *args)
    assert expired.returncode == 1
    assert "expired known failure AUD-2" in expired.stdout


def test_a_malformed_baseline_is_a_usage_error(correct: str, tmp_path: Path) -> None:
    baseline = tmp_path / "known.toml"
    baseline.write_text('[[known_failure]]\nid = "NOPE-1"\nreason = "x"\nexpires = 2999-01-01\n')
    result = run_pytest(
        tmp_path, "--provider-url", correct, "--known-failures", str(baseline), *FAST
    )
    assert result.returncode == 4
    assert "SPEC.md clause ID" in result.stderr


def test_an_unusable_reference_recording_is_a_usage_error(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path, "--provider-url", "http://127.0.0.1:9", "--reference-audio", "missing.wav", *FAST
    )
    assert result.returncode == 4
    assert "--reference-audio missing.wav" in result.stderr


def test_cases_are_selected_by_id_level_and_keyword(correct: str, tmp_path: Path) -> None:
    base = ["--provider-url", correct, "--provider-api-key", API_KEY, "--collect-only", "-q", *FAST]
    health = run_pytest(tmp_path, *base, "--case", "HLT-*")
    assert _collected(health.stdout) == ["HLT-1", "HLT-2", "HLT-3"]
    without = run_pytest(tmp_path, *base, "--case", "HLT-*", "--skip-case", "HLT-2")
    assert _collected(without.stdout) == ["HLT-1", "HLT-3"]
    keyword = run_pytest(tmp_path, *base, "-k", "GEN-1 or VER")
    assert _collected(keyword.stdout) == ["GEN-1", "VER-1"]
    musts = _collected(run_pytest(tmp_path, *base, "--conformance-level", "must").stdout)
    assert "GEN-1" in musts
    assert "GEN-8" not in musts
    assert "SPK-2" not in musts


def _collected(stdout: str) -> list[str]:
    return [line.split("::")[-1] for line in stdout.splitlines() if "::" in line]


def test_junit_xml_names_cases_by_id(correct: str, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = run_pytest(
        tmp_path,
        "--provider-url",
        correct,
        "--provider-api-key",
        API_KEY,
        "--case",
        "HLT-*",
        f"--junitxml={junit}",
        *FAST,
    )
    assert result.returncode == 0
    cases = ET.parse(junit).getroot().iter("testcase")  # noqa: S314 - our own output
    assert sorted(case.get("name") for case in cases) == ["HLT-1", "HLT-2", "HLT-3"]


def test_works_with_xdist_and_reports_every_case(correct: str, tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = run_pytest(
        tmp_path,
        "--provider-url",
        correct,
        "--provider-api-key",
        API_KEY,
        "-p",
        "xdist",
        "-n",
        "2",
        "--case",
        "HLT-*,GEN-*,AUTH-*",
        "--conformance-report",
        str(report),
        *FAST,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    record = json.loads((report / "conformance.json").read_text())
    assert len(record["cases"]) == 3 + 8 + 5
    assert record["provenance"]["provider_health"]["status"] == "healthy"
    assert record["requests"]["total"] >= 16


def test_conformance_checks_the_provider_the_environment_names(
    correct: str, tmp_path: Path
) -> None:
    env = {"TTS_REMOTE_URL": correct, "TTS_API_KEY": API_KEY}
    result = run_pytest(tmp_path, "--conformance", "--case", "HLT-1,AUTH-1", *FAST, env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "collected 2 items" in result.stdout
    assert "2 passed" in result.stdout  # AUTH-1 passes only with the key from TTS_API_KEY


def _flaky_once() -> Rewrite:
    """The first empty-text request is spoken; later ones are refused as they should be."""
    state = {"seen": 0}

    async def hook(ex: Exchange) -> None:
        body = json.loads(ex.body) if ex.path == "/v1/generate" and ex.body else None
        if isinstance(body, dict) and body.get("text") == "":
            state["seen"] += 1
            if state["seen"] == 1:
                ex.respond(200, {"audio": "", "sample_rate": 22050, "dtype": "float32"})

    return Rewrite(on_request=hook)


def test_a_failure_that_passes_when_replayed_is_flaky(tmp_path: Path) -> None:
    with provider(_flaky_once(), whisper="none") as url:
        result = run_pytest(
            tmp_path,
            "--provider-url",
            url,
            "--provider-api-key",
            API_KEY,
            "--case",
            "GEN-4",
            "-rA",
            *FAST,
        )
    assert result.returncode == 0
    assert "FLAKY" in result.stdout
    assert "failed, then passed when replayed" in result.stdout
