"""The typed errors of the provider client.

::

    ProviderError
    ├── ProviderHTTPError          a status other than the endpoint's success (4xx, 5xx, ...)
    │   ├── AuthenticationError    401
    │   ├── RateLimitedError       429 (after the retries the policy allows)
    │   └── UnavailableError       503 (after the retries the policy allows)
    ├── ProtocolError              a success whose body breaks the schema or the audio codec
    └── ProviderTransportError     no complete HTTP answer
        ├── ProviderConnectionError   could not connect (the request never reached the provider)
        └── ProviderTimeoutError      connect, write, read or pool timeout

Every error carries the request, the number of attempts and a
:class:`~voicebox_api._curl.CurlCommand` that reproduces the request; ``str(error)`` ends with
that command. Messages, commands and ``repr`` never contain an API key.
"""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import ValidationError

from voicebox_api._codec import AudioCodecError
from voicebox_api._curl import CurlCommand
from voicebox_api._models import ErrorBody, OpenAIErrorEnvelope

__all__ = [
    "AuthenticationError",
    "BrokenStreamError",
    "ErrorPayload",
    "ProtocolError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeoutError",
    "ProviderTransportError",
    "RateLimitedError",
    "TimeoutPhase",
    "UnavailableError",
]

ErrorPayload = ErrorBody | OpenAIErrorEnvelope | str
"""An error body: parsed when it matches one of the two envelopes, else the raw text."""

TimeoutPhase = Literal["connect", "write", "read", "pool"]


class ProviderError(Exception):
    """Base class of every error the client raises about a provider's answer (or its absence)."""

    def __init__(
        self, message: str, *, request: httpx.Request, curl: CurlCommand, attempts: int = 1
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.curl = curl
        self.attempts = attempts

    def __str__(self) -> str:
        return f"{self.message}\nReproduce with:\n{self.curl.text}"


class ProviderHTTPError(ProviderError):
    """The provider answered with a status that the endpoint does not succeed with."""

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: ErrorPayload,
        retry_after: float | None,
        curl: CurlCommand,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, request=response.request, curl=curl, attempts=attempts)
        self.response = response
        self.status = response.status_code
        self.body = body
        self.retry_after = retry_after
        """Seconds the provider asked to wait (``Retry-After``), when it said."""


class AuthenticationError(ProviderHTTPError):
    """401: the key is missing or wrong (SPEC.md AUTH-1, AUTH-2, OAI-8)."""


class RateLimitedError(ProviderHTTPError):
    """429: the provider rate-limits this client (SPEC.md ERR-8)."""


class UnavailableError(ProviderHTTPError):
    """503: the provider is loading, unhealthy or full (SPEC.md §4, ERR-8)."""


class ProtocolError(ProviderError):
    """A success answer whose body breaks the contract.

    ``clause`` is the SPEC.md requirement it breaks (``AUD-1`` for bad base64, ``GEN-2`` for a
    body that is not a generate response, ...), and ``cause`` the codec's or pydantic's error.
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        clause: str,
        cause: AudioCodecError | ValidationError,
        curl: CurlCommand,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, request=response.request, curl=curl, attempts=attempts)
        self.response = response
        self.status = response.status_code
        self.clause = clause
        self.cause = cause


class BrokenStreamError(ProviderError):
    """A streamed answer that broke after its first byte (SPEC.md §14): truncated, misframed,
    or ended by the provider's in-band error frame. Never retried: audio was already delivered.

    ``clause`` names the broken requirement (``STR-4`` for a truncated stream, ``STR-5`` for an
    in-band error, ...); ``samples_received`` how many samples had arrived; ``error_body`` the
    provider's error frame, if it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        clause: str,
        cause: Exception,
        samples_received: int,
        curl: CurlCommand,
        error_body: ErrorBody | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, request=response.request, curl=curl, attempts=attempts)
        self.response = response
        self.clause = clause
        self.cause = cause
        self.samples_received = samples_received
        self.error_body = error_body


class ProviderTransportError(ProviderError):
    """No complete HTTP answer: the connection failed, broke or timed out."""

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        cause: httpx.RequestError,
        curl: CurlCommand,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, request=request, curl=curl, attempts=attempts)
        self.cause = cause
        self.status: int | None = None


class ProviderConnectionError(ProviderTransportError):
    """The client could not connect; the request never reached the provider."""


class ProviderTimeoutError(ProviderTransportError):
    """A timeout. Only a ``connect`` (or ``pool``) timeout means the provider got nothing."""

    def __init__(
        self,
        message: str,
        *,
        phase: TimeoutPhase,
        request: httpx.Request,
        cause: httpx.RequestError,
        curl: CurlCommand,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, request=request, cause=cause, curl=curl, attempts=attempts)
        self.phase: TimeoutPhase = phase
