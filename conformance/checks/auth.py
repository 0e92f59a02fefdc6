"""SPEC.md §2: authentication, for a provider configured with a key."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from conformance.checks._expect import describe, expect_status
from conformance.engine.outcome import Evidence, Failed, Info, NotApplicable
from conformance.engine.registry import check
from voicebox_api import AuthMode

if TYPE_CHECKING:
    from conformance.engine.session import Session

_NEEDS_KEY = "pass --provider-api-key (or set TTS_API_KEY) for a provider that requires a key"


def _require_key(s: Session) -> None:
    if not s.options.api_key:
        raise NotApplicable("no API key given, so authentication cannot be checked", _NEEDS_KEY)


def _unauthenticated_requests(s: Session, auth: AuthMode) -> list[httpx.Response]:
    """One cheap request to each /v1/ Voicebox endpoint, none of which would generate."""
    return [
        s.send("POST", "/v1/generate", json={}, auth=auth),
        s.send(
            "POST",
            "/v1/create_voice_prompt",
            files={"audio": ("a.wav", b"", "audio/wav")},
            auth=auth,
        ),
    ]


def _expect_all_401(responses: list[httpx.Response], what: str) -> Evidence:
    for response in responses:
        expect_status(response, {401}, what)
    return Evidence({"checked": [r.request.url.path for r in responses]}, responses[0])


@check("AUTH-1")
def missing_key_is_401(s: Session) -> Evidence:
    _require_key(s)
    return _expect_all_401(_unauthenticated_requests(s, "none"), "without a key")


@check("AUTH-2")
def wrong_key_is_401(s: Session) -> Evidence:
    _require_key(s)
    return _expect_all_401(_unauthenticated_requests(s, "wrong"), "with a wrong key")


@check("AUTH-3")
def right_key_is_accepted(s: Session) -> Evidence:
    _require_key(s)
    response = s.send("POST", "/v1/generate", json={}, auth="key")
    if response.status_code == 401:
        raise Failed("the right key accepted (any status but 401)", describe(response), response)
    return Evidence({"status_with_key": response.status_code}, response)


@check("AUTH-4")
def health_needs_no_key(s: Session) -> Evidence:
    _require_key(s)
    response = s.send("GET", "/health", auth="none")
    if response.status_code not in (200, 503):
        raise Failed("200 (or 503 while loading) without a key", describe(response), response)
    return Evidence({"status_without_key": response.status_code}, response)


@check("AUTH-5")
def bearer_key_is_accepted(s: Session) -> Evidence:
    _require_key(s)
    response = s.send("POST", "/v1/generate", json={}, auth="bearer")
    accepted = response.status_code != 401
    raise Info(
        f"Authorization: Bearer is {'accepted' if accepted else 'not accepted'}",
        response,
        bearer_accepted=accepted,
    )
