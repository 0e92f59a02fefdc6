"""An OpenAI-only run against an unreachable TTS provider still gets its report."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import httpx

from conformance.engine.options import SuiteOptions
from conformance.engine.record import CaseResult, Verdict
from conformance.engine.report import build_record, render_markdown
from conformance.engine.runner import Runner
from conformance.engine.session import Session
from tests.checks.fakes import session_over

STARTED = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)


class _Run:
    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def options(self) -> SuiteOptions:
        return self._session.options

    @property
    def cases(self) -> Mapping[str, CaseResult]:
        return {}

    @property
    def started_at(self) -> datetime:
        return STARTED

    def session_if_open(self) -> Session | None:
        return self._session

    def runner(self) -> Runner:
        return Runner(self._session)


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def test_an_unreachable_provider_is_recorded_not_raised() -> None:
    session = session_over(_refused, whisper_mode="openai-api")
    record = build_record(_Run(session), STARTED)
    assert record.provenance.provider_health is None
    assert "refused" in (record.provenance.provider_health_error or "")
    assert record.passed
    assert record.summary[Verdict.FAIL] == 0
    assert "could not be read" in render_markdown(record)
