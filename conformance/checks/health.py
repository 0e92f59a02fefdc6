"""SPEC.md §4 and §13: GET /health, capabilities and the advertised version."""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from conformance.checks._expect import expect_json_object
from conformance.checks._schema import health_errors
from conformance.engine.outcome import Blocked, Evidence, Failed
from conformance.engine.registry import check
from voicebox_api import READY_STATUSES, SPEC_VERSION, Capabilities, HealthStatus

if TYPE_CHECKING:
    from conformance.engine.session import Session

_STATUSES = get_args(HealthStatus)


@check("HLT-1")
def health_has_status_model_device(s: Session) -> Evidence:
    response = s.health().response
    body = expect_json_object(response)
    problems = health_errors(body).get("HLT-1")
    if problems:
        raise Failed("string members status, model and device", "; ".join(problems)[:300], response)
    return Evidence({k: body[k] for k in ("status", "model", "device")}, response)


@check("HLT-2")
def health_status_matches_http_code(s: Session) -> Evidence:
    probe = s.health()
    status = probe.body.get("status") if probe.body else None
    if not isinstance(status, str):
        raise Blocked("HLT-1", "/health has no string status")
    problems = health_errors(probe.body).get("HLT-2")
    if problems:
        raise Failed(f"status one of {', '.join(_STATUSES)}", "; ".join(problems), probe.response)
    expected_code = 200 if status in READY_STATUSES else 503
    if probe.response.status_code != expected_code:
        raise Failed(
            f"HTTP {expected_code} for status {status!r}",
            f"HTTP {probe.response.status_code}",
            probe.response,
        )
    return Evidence({"status": status, "http": expected_code}, probe.response)


@check("HLT-3")
def capabilities_match_the_schema(s: Session) -> Evidence:
    probe = s.health()
    raw = probe.body.get("capabilities") if probe.body else None
    if raw is None:
        return Evidence({"capabilities": "not declared"}, probe.response)
    problems = health_errors(probe.body).get("HLT-3")
    if problems:
        raise Failed(
            "capabilities matching the Capabilities schema",
            "; ".join(problems)[:400],
            probe.response,
        )
    declared = Capabilities.model_validate(raw).model_dump(exclude_none=True)
    return Evidence({"declared": sorted(declared)}, probe.response)


@check("VER-1")
def health_names_the_api_version(s: Session) -> Evidence:
    probe = s.health()
    version = probe.body.get("api_version") if probe.body else None
    if version is None:
        raise Failed(f'api_version "{SPEC_VERSION}" in /health', "none", probe.response)
    problems = health_errors(probe.body).get("VER-1")
    if problems:
        raise Failed("api_version as MAJOR.MINOR", "; ".join(problems), probe.response)
    if str(version).split(".")[0] != SPEC_VERSION.split(".")[0]:
        raise Failed(
            f"a {SPEC_VERSION.split('.')[0]}.x version, as this suite checks v{SPEC_VERSION}",
            str(version),
            probe.response,
        )
    return Evidence({"api_version": version}, probe.response)
