"""``--speech-url`` alone checks only the speech endpoint (SPEC.md §15)."""

from __future__ import annotations

from conformance.engine.options import SuiteOptions


def test_speech_only_runs_the_speech_clauses() -> None:
    options = SuiteOptions(
        provider_url="http://gpu-box:8091", speech_url="http://gpu-box:8091/v1", speech_only=True
    )
    assert options.selects("SPEECH-3", "MUST")
    assert not options.selects("GEN-1", "MUST")
    assert not options.selects("OAI-1", "MUST")


def test_with_a_provider_everything_runs() -> None:
    options = SuiteOptions(provider_url="http://box:8000", speech_url="http://other:8091/v1")
    assert options.selects("GEN-1", "MUST")
    assert options.selects("SPEECH-1", "MUST")


def test_the_speech_key_is_redacted() -> None:
    options = SuiteOptions(provider_url="http://box:8000", speech_api_key="sk-secret")
    assert options.redacted()["speech_api_key"] == "***"
    assert "sk-secret" not in repr(options)
