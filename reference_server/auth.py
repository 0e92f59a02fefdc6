"""API-key authentication (SPEC.md §2, OAI-8).

Voicebox endpoints take the key in ``X-API-Key`` or, as AUTH-5 allows, ``Authorization: Bearer``;
the OpenAI-compatible endpoint takes it as a Bearer token, as OpenAI documents. Every credential
a request presents must be right, and comparisons take constant time. The key is never logged and
never echoed.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from starlette.datastructures import Headers

from reference_server.errors import ApiError

__all__ = ["ApiKeyAuth"]

_CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="voicebox"'}


class ApiKeyAuth:
    """Checks requests against one configured key; without a key, everything passes."""

    def __init__(self, api_key: str | None) -> None:
        self._key = api_key.encode("utf-8") if api_key else None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def authenticate(self, headers: Headers, *, bearer_only: bool = False) -> str | None:
        """Raise a 401 ApiError unless the request carries the key; return an identity for the
        rate limiter (a digest of the key, never the key), or None when auth is off."""
        if self._key is None:
            return None
        presented = [_bearer(headers)]
        if not bearer_only:
            presented.append(headers.get("x-api-key"))
        given = [value for value in presented if value is not None]
        if not given:
            where = "Authorization: Bearer" if bearer_only else "X-API-Key (or Bearer)"
            raise ApiError(
                401,
                f"missing API key: send it in {where}",
                code="invalid_api_key",
                headers=_CHALLENGE,
            )
        # Check every presented credential, without short-circuiting, in constant time each.
        results = [hmac.compare_digest(value.encode("latin-1"), self._key) for value in given]
        if not all(results):
            raise ApiError(401, "invalid API key", code="invalid_api_key", headers=_CHALLENGE)
        return "key:" + hashlib.sha256(self._key).hexdigest()[:16]


def _bearer(headers: Headers) -> str | None:
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""  # presented, but not as a Bearer token: it cannot match
    return token.strip()
