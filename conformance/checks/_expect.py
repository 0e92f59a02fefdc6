"""Small assertions that raise ``Failed`` with Expected vs Actual and the exchange."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import httpx

from conformance.engine.outcome import Failed
from voicebox_api import strict_json

__all__ = ["describe", "expect_json_object", "expect_status", "strict_json"]

_BODY_PREVIEW = 300


def describe(response: httpx.Response) -> str:
    """One line a person can read: status, content type and the start of the body."""
    content_type = response.headers.get("content-type", "no content type")
    body = response.text[:_BODY_PREVIEW].replace("\n", " ")
    more = "…" if len(response.text) > _BODY_PREVIEW else ""
    return f"{response.status_code} ({content_type}) {body}{more}"


def expect_status(
    response: httpx.Response, allowed: Collection[int], what: str = ""
) -> httpx.Response:
    if response.status_code not in allowed:
        codes = " or ".join(str(c) for c in sorted(allowed))
        raise Failed(f"{codes}{' ' + what if what else ''}", describe(response), response)
    return response


def expect_json_object(response: httpx.Response, *, content_type: bool = True) -> dict[str, Any]:
    """The body as a JSON object; with ``content_type``, also require a JSON media type."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and not media_type.endswith("json"):
        raise Failed("Content-Type: application/json", describe(response), response)
    try:
        body = strict_json(response.text)
    except ValueError as exc:
        raise Failed("a JSON body", f"{exc}: {describe(response)}", response) from None
    if not isinstance(body, dict):
        raise Failed("a JSON object", f"a JSON {type(body).__name__}", response)
    return body
