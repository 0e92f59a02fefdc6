"""Credentials never reach the logs, even when a client puts them in the URL.

A client that sends its key as ``?api_key=...`` is refused (keys go in headers, SPEC.md §2), but
uvicorn's access log writes the request target as it came. ``RedactingFilter`` rewrites the
arguments of every record on the loggers it is installed on: the values of credential-like query
parameters, and the userinfo of absolute URLs, become ``REDACTED``.
"""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["REDACTED", "RedactingFilter", "install_redaction", "redact_url"]

REDACTED: Final = "REDACTED"
_CREDENTIAL_NAMES: Final = (
    "api_key|apikey|api-key|x-api-key|key|token|access_token|id_token|refresh_token|auth|"
    "authorization|password|passwd|secret|client_secret|signature|sig"
)
_QUERY_CREDENTIAL: Final = re.compile(rf"(?i)([?&;](?:{_CREDENTIAL_NAMES})=)[^&;#\s\"]*")
_USERINFO: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s\"?#]+@")
_LOGGERS: Final = ("uvicorn.access", "uvicorn.error")


def redact_url(text: str) -> str:
    """``text`` with credential query values and URL userinfo replaced by ``REDACTED``."""
    if "=" not in text and "@" not in text:
        return text
    text = _QUERY_CREDENTIAL.sub(rf"\g<1>{REDACTED}", text)
    return _USERINFO.sub(rf"\g<1>{REDACTED}@", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_url(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def install_redaction(*, handlers: bool = False) -> None:
    """Put one ``RedactingFilter`` on uvicorn's loggers and, with ``handlers``, on the root
    logger's handlers too, which every other record passes through (idempotent)."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in _LOGGERS]
    if handlers:
        targets.extend(logging.getLogger().handlers)
    for target in targets:
        if not any(isinstance(existing, RedactingFilter) for existing in target.filters):
            target.addFilter(RedactingFilter())
