"""What the sync and the async client share: URLs, credentials, request building, retry
bookkeeping, observation and the mapping of answers to results or typed errors.

Only sending and sleeping differ between the two clients, and live in ``_sync``/``_async``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

import httpx
from pydantic import SecretStr, ValidationError

from voicebox_api._client._endpoints import (
    WRONG_API_KEY,
    AuthMode,
    Endpoint,
    RequestOptions,
    RequestSpec,
    Target,
    Violation,
)
from voicebox_api._client._results import Exchange
from voicebox_api._client._retry import (
    NO_RETRY,
    RETRYABLE_STATUSES,
    RetryPolicy,
    RetrySchedule,
)
from voicebox_api._codec import AudioCodecError
from voicebox_api._curl import CurlCommand, curl_command, redact_secrets
from voicebox_api._errors import (
    AuthenticationError,
    ErrorPayload,
    ProtocolError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeoutError,
    ProviderTransportError,
    RateLimitedError,
    TimeoutPhase,
    UnavailableError,
)
from voicebox_api._models import ErrorBody, OpenAIErrorEnvelope
from voicebox_api._retry_after import parse_retry_after
from voicebox_api._settings import Settings, SettingsError
from voicebox_api._version import __version__

logger = logging.getLogger("voicebox_api._client")

R = TypeVar("R")
ExchangeObserver = Callable[[Exchange], None]

USER_AGENT: Final = f"voicebox-provider-kit/{__version__}"
DEFAULT_LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""httpx's own defaults; benchmarks that open more concurrent requests pass ``limits``."""
_STATUS_ERRORS: Final[Mapping[int, type[ProviderHTTPError]]] = {
    401: AuthenticationError,
    429: RateLimitedError,
    503: UnavailableError,
}
_TIMEOUT_PHASES: Final[Mapping[type[httpx.TimeoutException], TimeoutPhase]] = {
    httpx.ConnectTimeout: "connect",
    httpx.WriteTimeout: "write",
    httpx.ReadTimeout: "read",
    httpx.PoolTimeout: "pool",
}
_DESCRIPTION_LIMIT: Final = 300


def resolve_settings(
    settings: Settings | None, base_url: str | None, api_key: str | None
) -> Settings:
    """The environment, under ``settings`` when given, under the explicit arguments."""
    resolved = settings if settings is not None else Settings.from_env()
    if base_url is not None:
        resolved = resolved.replace(tts_remote_url=base_url)
    if api_key is not None:
        resolved = resolved.replace(tts_api_key=api_key)
    return resolved


def default_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {"User-Agent": USER_AGENT, **(headers or {})}


class ClientCore:
    """State and pure logic of a provider client; subclasses add the I/O."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy,
        on_exchange: ExchangeObserver | None,
        rng: random.Random | None,
    ) -> None:
        self._settings = settings
        self._retry = retry
        self._on_exchange = on_exchange
        self._rng = rng or random.Random()

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    def __repr__(self) -> str:
        s = self._settings
        keys = [name for name, key in (("tts", s.tts_api_key), ("openai", s.openai_api_key)) if key]
        return (
            f"{type(self).__name__}(tts={s.tts_remote_url!r}, whisper={s.whisper_url!r}, "
            f"openai={s.openai_base_url!r}, keys={keys!r})"
        )

    def curl(self, request: httpx.Request) -> CurlCommand:
        """A curl command that reproduces ``request``, with every key redacted."""
        return curl_command(request, secrets=self._secrets(), public_values=(WRONG_API_KEY,))

    # --- Building requests ---------------------------------------------------------------------

    @staticmethod
    def _spec(method: str, path: str, options: RequestOptions) -> tuple[RequestSpec, bool]:
        fields = {name: value for name, value in options.items() if name != "retry"}
        return RequestSpec(method.upper(), path, **fields), options.get("retry", False)  # type: ignore[arg-type]

    def _build(self, http: httpx.Client | httpx.AsyncClient, spec: RequestSpec) -> httpx.Request:
        headers = httpx.Headers(self._credentials(spec.target, spec.auth))
        headers.update(spec.headers)  # case-insensitive: an explicit header replaces the key
        request = http.build_request(
            spec.method,
            self._url(spec.target, spec.path),
            json=spec.json,
            content=spec.content,
            data=spec.data,
            files=spec.files,
            params=spec.params,
            headers=headers,
            timeout=spec.timeout if spec.timeout is not None else http.timeout,
        )
        request.read()  # bodies are in memory: reading now makes them replayable for curl
        return request

    def _url(self, target: Target, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        base = self._base_url(target)
        return f"{base}/{path.lstrip('/')}"

    def _base_url(self, target: Target) -> str:
        s = self._settings
        if target == "openai":
            return s.openai_base_url
        url = s.whisper_url if target == "whisper" else s.tts_remote_url
        if url is None:
            variable = "WHISPER_REMOTE_URL" if target == "whisper" else "TTS_REMOTE_URL"
            raise SettingsError(variable, "is not set; set it or pass the client a base_url")
        return url

    def _credentials(self, target: Target, auth: AuthMode) -> dict[str, str]:
        key = WRONG_API_KEY if auth == "wrong" else _reveal(self._key(target))
        if auth == "none" or key is None:
            return {}
        if auth == "bearer" or target == "openai":
            return {"Authorization": f"Bearer {key}"}
        return {"X-API-Key": key}

    def _key(self, target: Target) -> SecretStr | None:
        s = self._settings
        if target == "openai":
            return s.openai_api_key
        if target == "whisper" and not _same_origin(s.whisper_url, s.tts_remote_url):
            return None  # never send the TTS key to another server
        return s.tts_api_key

    def _secrets(self) -> list[str]:
        keys = (self._settings.tts_api_key, self._settings.openai_api_key)
        return [value for value in map(_reveal, keys) if value]

    # --- Attempts ------------------------------------------------------------------------------

    def _schedule(
        self, retry: bool, statuses: frozenset[int] = RETRYABLE_STATUSES
    ) -> RetrySchedule:
        return RetrySchedule(self._retry if retry else NO_RETRY, statuses, self._rng)

    def _observe(
        self,
        endpoint: str,
        attempt: int,
        request: httpx.Request,
        outcome: httpx.Response | httpx.RequestError,
        elapsed_s: float,
    ) -> None:
        response = outcome if isinstance(outcome, httpx.Response) else None
        error = None if isinstance(outcome, httpx.Response) else outcome
        logger.debug(
            "%s %s -> %s in %.3f s (attempt %d)",
            request.method,
            request.url,
            response.status_code if response is not None else type(error).__name__,
            elapsed_s,
            attempt,
        )
        if self._on_exchange is not None:
            self._on_exchange(Exchange(endpoint, attempt, request, response, error, elapsed_s))

    def _log_retry(
        self, request: httpx.Request, outcome: httpx.Response | httpx.RequestError, delay: float
    ) -> None:
        cause = (
            outcome.status_code if isinstance(outcome, httpx.Response) else type(outcome).__name__
        )
        logger.info("retrying %s %s in %.2f s after %s", request.method, request.url, delay, cause)

    def _settle(
        self, request: httpx.Request, outcome: httpx.Response | httpx.RequestError, attempts: int
    ) -> httpx.Response:
        if isinstance(outcome, httpx.Response):
            return outcome
        # Not chained, like protocol errors: the message quotes the cause, redacted.
        raise self._transport_error(request, outcome, attempts) from None

    def _finish(self, endpoint: Endpoint[R], response: httpx.Response, attempts: int) -> R:
        if not endpoint.accepts(response):
            raise self._http_error(response, endpoint.spec.target, attempts)
        try:
            return endpoint.parse(response)
        except Violation as violation:
            # Not chained: pydantic's text quotes the offending input, which may echo a key.
            # The cause stays available as ``error.cause`` and is summarised in the message.
            raise self._protocol_error(response, violation, attempts) from None

    # --- Errors --------------------------------------------------------------------------------

    def _http_error(
        self, response: httpx.Response, target: Target, attempts: int
    ) -> ProviderHTTPError:
        payload = _error_payload(response, target)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        message = (
            f"{_describe_request(response.request)} answered {response.status_code} "
            f"{response.reason_phrase}: {_describe_payload(payload)}"
            + (f" (Retry-After: {retry_after:g} s)" if retry_after is not None else "")
            + _attempts_note(attempts)
        )
        error_type = _STATUS_ERRORS.get(response.status_code, ProviderHTTPError)
        return error_type(
            self._redact(message),
            response=response,
            body=payload,
            retry_after=retry_after,
            curl=self.curl(response.request),
            attempts=attempts,
        )

    def _protocol_error(
        self, response: httpx.Response, violation: Violation, attempts: int
    ) -> ProtocolError:
        message = (
            f"{_describe_request(response.request)} answered {response.status_code} with a body "
            f"that breaks {violation.clause}: {_describe_cause(violation.cause)}"
        )
        return ProtocolError(
            self._redact(message),
            response=response,
            clause=violation.clause,
            cause=violation.cause,
            curl=self.curl(response.request),
            attempts=attempts,
        )

    def _transport_error(
        self, request: httpx.Request, exc: httpx.RequestError, attempts: int
    ) -> ProviderTransportError:
        where = _describe_request(request)
        curl = self.curl(request)
        if isinstance(exc, httpx.TimeoutException):
            phase = _TIMEOUT_PHASES.get(type(exc), "read")
            limit = request.extensions.get("timeout", {}).get(phase)
            message = f"{where}: {phase} timeout" + (f" after {limit:g} s" if limit else "")
            if phase in ("write", "read"):
                message += "; not retried, since the provider may have received the request"
            return ProviderTimeoutError(
                self._redact(message + _attempts_note(attempts)),
                phase=phase,
                request=request,
                cause=exc,
                curl=curl,
                attempts=attempts,
            )
        if isinstance(exc, httpx.ConnectError):
            message = f"{where}: could not connect ({exc or type(exc).__name__})"
            return ProviderConnectionError(
                self._redact(message + _attempts_note(attempts)),
                request=request,
                cause=exc,
                curl=curl,
                attempts=attempts,
            )
        message = (
            f"{where}: {type(exc).__name__} ({exc}); not retried, since the provider may have "
            "received the request"
        )
        return ProviderTransportError(
            self._redact(message), request=request, cause=exc, curl=curl, attempts=attempts
        )

    def _redact(self, text: str) -> str:
        return redact_secrets(text, self._secrets())


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def _same_origin(first: str | None, second: str | None) -> bool:
    if first is None or second is None:
        return first == second
    a, b = httpx.URL(first), httpx.URL(second)
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _error_payload(response: httpx.Response, target: Target) -> ErrorPayload:
    envelopes: tuple[type[ErrorBody] | type[OpenAIErrorEnvelope], ...] = (
        (OpenAIErrorEnvelope, ErrorBody) if target == "openai" else (ErrorBody, OpenAIErrorEnvelope)
    )
    for envelope in envelopes:
        try:
            return envelope.model_validate_json(response.content)
        except ValidationError:
            continue
    return response.text


def _describe_request(request: httpx.Request) -> str:
    return f"{request.method} {request.url}"


def _describe_payload(payload: ErrorPayload) -> str:
    if isinstance(payload, OpenAIErrorEnvelope):
        text = payload.error.message
    elif isinstance(payload, ErrorBody):
        detail = payload.detail
        text = (
            detail
            if isinstance(detail, str)
            else "; ".join(f"{'.'.join(map(str, issue.loc))}: {issue.msg}" for issue in detail)
        )
    else:
        text = payload.strip() or "(empty body)"
    return _shorten(text)


def _describe_cause(cause: AudioCodecError | ValidationError) -> str:
    if isinstance(cause, AudioCodecError):
        return str(cause)
    issues = cause.errors(include_input=False, include_url=False)
    first = issues[0]
    location = ".".join(map(str, first["loc"])) or "body"
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return _shorten(f"{location}: {first['msg']}{more}")


def _shorten(text: str) -> str:
    return text if len(text) <= _DESCRIPTION_LIMIT else text[: _DESCRIPTION_LIMIT - 1] + "…"


def _attempts_note(attempts: int) -> str:
    return f" (after {attempts} attempts)" if attempts > 1 else ""


__all__ = [
    "DEFAULT_LIMITS",
    "ClientCore",
    "ExchangeObserver",
    "ProviderError",
    "default_headers",
    "resolve_settings",
]
