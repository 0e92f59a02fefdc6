"""Error responses: one body shape per API family, never a traceback or a path.

Voicebox endpoints answer FastAPI's shape plus two members (SPEC.md ERR-1):
``{"detail": ..., "code": ..., "request_id": ...}``. The OpenAI-compatible endpoint answers
OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}`` (OAI-6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from voicebox_api import ErrorBody, OpenAIError, OpenAIErrorEnvelope, ValidationIssue

__all__ = [
    "OPENAI_PATHS",
    "ApiError",
    "error_response",
    "install_exception_handlers",
    "issues_from",
    "request_id_of",
]

OPENAI_PATHS: Final = frozenset({"/v1/audio/transcriptions", "/v1/audio/speech"})
GENERIC_500: Final = "internal server error; the server log has the details under this request id"

_STATUS_CODES: Final[dict[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}

_OPENAI_TYPES: Final[dict[int, str]] = {429: "requests", 500: "server_error", 503: "server_error"}


class ApiError(Exception):
    """An error the server answers on purpose, with a message safe to show the client."""

    def __init__(
        self,
        status: int,
        detail: str | Sequence[ValidationIssue],
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail if isinstance(detail, str) else "invalid request")
        self.status = status
        self.detail = detail
        self.code = code or _STATUS_CODES.get(status, "error")
        self.param = param
        self.headers = dict(headers or {})


def request_id_of(scope: Mapping[str, Any]) -> str:
    context = scope.get("voicebox")
    return str(getattr(context, "request_id", "")) or "-"


def issues_from(error: ValidationError, *, prefix: str = "body") -> list[ValidationIssue]:
    """pydantic's errors as ``{loc, msg, type}``, without echoing the client's input back."""
    return [
        ValidationIssue(loc=[prefix, *item["loc"]], msg=item["msg"], type=item["type"])
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def error_response(scope: Mapping[str, Any], error: ApiError) -> Response:
    """The error body for ``scope``'s API family, with its headers."""
    request_id = request_id_of(scope)
    headers = dict(error.headers)
    if scope.get("path") in OPENAI_PATHS:
        message = error.detail if isinstance(error.detail, str) else _summary(error.detail)
        envelope = OpenAIErrorEnvelope(
            error=OpenAIError(
                message=message,
                type=_OPENAI_TYPES.get(error.status, "invalid_request_error"),
                param=error.param,
                code=None if error.code == _STATUS_CODES.get(error.status) else error.code,
            )
        )
        body: dict[str, Any] = envelope.model_dump(mode="json")
    else:
        body = ErrorBody(
            detail=list(error.detail) if not isinstance(error.detail, str) else error.detail
        ).model_dump(mode="json")
        body["code"] = error.code
        body["request_id"] = request_id
    return JSONResponse(body, status_code=error.status, headers=headers)


def _summary(issues: Sequence[ValidationIssue]) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in issue.loc[1:])}: {issue.msg}" for issue in issues
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request.scope, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else "error"
    return error_response(request.scope, ApiError(exc.status_code, detail, headers=exc.headers))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [
        ValidationIssue(
            loc=list(item.get("loc", ())),
            msg=str(item.get("msg", "")),
            type=str(item.get("type", "")),
        )
        for item in exc.errors()
    ]
    return error_response(request.scope, ApiError(422, issues, code="validation_error"))


def install_exception_handlers(app: Any) -> None:
    """Route every deliberate error through ``error_response``.

    Unexpected exceptions are caught one level further out, by the request-context middleware,
    so that even they carry the request id and the response headers.
    """
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
