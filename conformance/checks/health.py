"""SPEC.md §4 and §13: GET /health, capabilities and the advertised version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from conformance.checks._expect import expect_json_object
from conformance.engine.outcome import Evidence, Failed
from conformance.engine.registry import check
from voicebox_api import READY_STATUSES, SPEC_VERSION, Capabilities

if TYPE_CHECKING:
    from conformance.engine.session import Session

_STATUSES = ("healthy", "degraded", "loading", "unhealthy")


@check("HLT-1")
def health_has_status_model_device(s: Session) -> Evidence:
    response = s.health().response
    body = expect_json_object(response)
    wrong = [k for k in ("status", "model", "device") if not isinstance(body.get(k), str)]
    if wrong:
        raise Failed(
            "string members status, model and device",
            f"{', '.join(wrong)} missing or not a string in {body!r}"[:300],
            response,
        )
    return Evidence({k: body[k] for k in ("status", "model", "device")}, response)


@check("HLT-2")
def health_status_matches_http_code(s: Session) -> Evidence:
    probe = s.health()
    status = probe.body.get("status") if probe.body else None
    if status not in _STATUSES:
        raise Failed(f"status one of {', '.join(_STATUSES)}", repr(status), probe.response)
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
    try:
        capabilities = Capabilities.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Failed(
            "capabilities matching the Capabilities schema", problems[:400], probe.response
        ) from None
    declared = capabilities.model_dump(exclude_none=True)
    return Evidence({"declared": sorted(declared)}, probe.response)


@check("VER-1")
def health_names_the_api_version(s: Session) -> Evidence:
    probe = s.health()
    version = probe.body.get("api_version") if probe.body else None
    if not isinstance(version, str):
        raise Failed(f'api_version "{SPEC_VERSION}" in /health', f"{version!r}", probe.response)
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise Failed("api_version as MAJOR.MINOR", repr(version), probe.response)
    if major != SPEC_VERSION.split(".")[0]:
        raise Failed(
            f"a {SPEC_VERSION.split('.')[0]}.x version, as this suite checks v{SPEC_VERSION}",
            version,
            probe.response,
        )
    return Evidence({"api_version": version}, probe.response)
