"""Write a conformance run as ``conformance.json`` (the record) and ``conformance.md`` (a summary).

The publishable post with plots comes from ``python -m reports``; this summary is what a provider
author reads right after a run.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from conformance.engine.markdown import render_markdown
from conformance.engine.record import (
    CaseResult,
    ConformanceRecord,
    Provenance,
    RequestTally,
    Verdict,
)
from conformance.engine.spec import clauses
from voicebox_api import SPEC_VERSION, ProviderTransportError, __version__

if TYPE_CHECKING:
    from conformance.engine.options import SuiteOptions
    from conformance.engine.runner import Runner
    from conformance.engine.session import Session

__all__ = ["FinishedRun", "build_record", "write_reports"]


class FinishedRun(Protocol):
    """What a record is built from: the pytest run, seen from here without importing it."""

    @property
    def options(self) -> SuiteOptions: ...

    @property
    def cases(self) -> Mapping[str, CaseResult]: ...

    @property
    def started_at(self) -> datetime: ...

    def session_if_open(self) -> Session | None: ...

    def runner(self) -> Runner: ...


def build_record(run: FinishedRun, finished_at: datetime) -> ConformanceRecord:
    order = {c.id: i for i, c in enumerate(clauses())}
    cases = sorted(run.cases.values(), key=lambda case: order.get(case.id, 0))
    checked_here = run.session_if_open()
    # Under xdist the workers checked; the controller opens a session for provenance alone.
    session = checked_here or run.runner().session
    summary = {verdict: sum(c.verdict is verdict for c in cases) for verdict in Verdict}
    failing = {Verdict.FAIL, Verdict.NON_STRICT} if run.options.strict else {Verdict.FAIL}
    health, health_error = _final_health(session)
    provenance = Provenance(
        kit_version=__version__,
        spec_version=SPEC_VERSION,
        provider_url=run.options.provider_url,
        whisper_url=run.options.whisper_url,
        provider_health=health,
        provider_health_error=health_error,
        started_at=run.started_at,
        finished_at=finished_at,
        duration_s=round((finished_at - run.started_at).total_seconds(), 3),
        judges=session.judge_infos(),
        options=run.options.redacted(),
        python=sys.version.split()[0],
        platform=platform.platform(),
        pytest=pytest.__version__,
    )
    if checked_here is not None:
        tally = checked_here.tally()
    else:  # the workers' own tallies stay with them; each case counted its requests
        tally = RequestTally(
            total=sum(c.requests for c in cases), generate_calls=None, generations=None
        )
    return ConformanceRecord(
        provenance=provenance,
        cases=cases,
        requests=tally,
        summary=summary,
        passed=not any(c.verdict in failing and not c.known_failure for c in cases),
    )


def _final_health(session: Session) -> tuple[dict[str, Any] | None, str | None]:
    """The provider's /health for the provenance, or why it could not be had."""
    try:
        return session.health_body(), None
    except ProviderTransportError as exc:
        return None, str(exc)


def write_reports(record: ConformanceRecord, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "conformance.json"
    md_path = directory / "conformance.md"
    json_path.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(record), encoding="utf-8")
    return json_path, md_path
