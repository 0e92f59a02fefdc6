"""Run one check against a session and turn its outcome into a verdict (SPEC.md §1)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import httpx

from conformance.engine.baseline import Baseline
from conformance.engine.outcome import (
    Blocked,
    Evidence,
    Exchange,
    Failed,
    Info,
    NotApplicable,
    Unimplemented,
)
from conformance.engine.record import CaseResult, Verdict
from conformance.engine.registry import Check
from voicebox_api import ProviderTransportError

if TYPE_CHECKING:
    from conformance.engine.session import Session

__all__ = ["Runner"]

_TRANSPORT_ERRORS = (ProviderTransportError, httpx.TransportError)


@dataclass
class Runner:
    session: Session
    baseline: Baseline = field(default_factory=Baseline)
    replay: bool = True
    today: date | None = None

    def run(self, check: Check) -> CaseResult:
        started, before = time.perf_counter(), self.session.request_count
        result = self._judge(check, self.session)
        if result.verdict in (Verdict.FAIL, Verdict.NON_STRICT) and self.replay:
            replayed = self._judge(check, self.session.fresh())
            if replayed.verdict in (Verdict.PASS, Verdict.INFO):
                result = result.model_copy(
                    update={
                        "verdict": Verdict.FLAKY,
                        "reason": f"failed, then passed when replayed: {result.reason}",
                    }
                )
        if result.verdict is Verdict.FAIL:
            entry = self.baseline.excuse(check.id, self.today or date.today())
            if entry is not None:
                result = result.model_copy(update={"known_failure": entry.reason})
        return result.model_copy(
            update={
                "duration_s": round(time.perf_counter() - started, 3),
                "requests": self.session.request_count - before,
            }
        )

    def _judge(self, check: Check, session: Session) -> CaseResult:
        """The check's outcome, with what the session noted while it ran in the note."""
        session.take_notes()
        result = self._outcome(check, session)
        notes = session.take_notes()
        if not notes:
            return result
        return result.model_copy(
            update={"reason": "; ".join([*notes, *filter(None, [result.reason])])}
        )

    def _outcome(self, check: Check, session: Session) -> CaseResult:  # noqa: PLR0911 - one return per outcome
        base = _base(check)
        try:
            evidence = check.function(session) or Evidence()
        except Failed as failed:
            verdict = _verdict_for_failure(check)
            return _with_exchange(
                session,
                base,
                failed.exchange,
                verdict=verdict,
                reason=str(failed),
                expected=failed.expected,
                actual=failed.actual,
                evidence=_jsonable(failed.facts),
            )
        except Blocked as blocked:
            return _case(
                base,
                verdict=Verdict.SKIPPED,
                reason=str(blocked),
                enable_hint=f"fix {blocked.clause_id} first",
            )
        except NotApplicable as skipped:
            return _case(
                base, verdict=Verdict.SKIPPED, reason=skipped.reason, enable_hint=skipped.enable
            )
        except Unimplemented as lacking:
            return _case(base, verdict=Verdict.UNIMPLEMENTED, reason=lacking.reason)
        except Info as info:
            return _with_exchange(
                session,
                base,
                info.exchange,
                verdict=Verdict.INFO,
                reason=info.message,
                evidence=_jsonable(info.facts),
            )
        except _TRANSPORT_ERRORS as exc:
            return _with_exchange(
                session,
                base,
                getattr(exc, "request", None),
                verdict=_verdict_for_failure(check),
                reason=f"no response: {exc}",
                expected="a response",
                actual=f"{type(exc).__name__}: {exc}",
            )
        verdict = Verdict.INFO if check.clause.level == "MAY" else Verdict.PASS
        return _with_exchange(
            session, base, evidence.exchange, verdict=verdict, evidence=_jsonable(evidence.facts)
        )


def _verdict_for_failure(check: Check) -> Verdict:
    return {"MUST": Verdict.FAIL, "SHOULD": Verdict.NON_STRICT}.get(
        check.clause.level, Verdict.INFO
    )


def _base(check: Check) -> dict[str, Any]:
    clause = check.clause
    return {
        "id": clause.id,
        "level": clause.level.value,
        "section": clause.section,
        "requirement": clause.text,
        "duration_s": 0.0,
    }


def _case(base: dict[str, Any], **fields: Any) -> CaseResult:
    return CaseResult(**base, **fields)


def _with_exchange(
    session: Session, base: dict[str, Any], exchange: Exchange | None, **fields: Any
) -> CaseResult:
    curl = None
    if exchange is not None:
        request = exchange.request if isinstance(exchange, httpx.Response) else exchange
        curl = session.curl(request)
        fields.setdefault("evidence", {})
        fields["evidence"] = {**_exchange_facts(exchange), **fields["evidence"]}
    return CaseResult(**base, curl=curl, **fields)


def _exchange_facts(exchange: Exchange) -> dict[str, Any]:
    request = exchange.request if isinstance(exchange, httpx.Response) else exchange
    facts: dict[str, Any] = {"request": f"{request.method} {request.url.path}"}
    if isinstance(exchange, httpx.Response):
        facts["status"] = exchange.status_code
        facts["content_type"] = exchange.headers.get("content-type")
    return facts


def _jsonable(facts: dict[str, Any]) -> dict[str, Any]:
    """Evidence must survive JSON; anything exotic becomes its repr."""
    import json

    out: dict[str, Any] = {}
    for key, value in facts.items():
        try:
            json.dumps(value)
            out[key] = value
        except (TypeError, ValueError):
            out[key] = repr(value)
    return out
