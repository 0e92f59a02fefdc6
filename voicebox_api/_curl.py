"""Copy-pasteable ``curl`` commands that reproduce an httpx request, credentials redacted.

The conformance suite prints one for every failed check, including requests it malforms on
purpose, so the command is rebuilt from the request's bytes rather than from the arguments
that made it:

* a multipart body becomes ``-F``/``--form-string`` options, one per part; each file part is
  an *attachment*, a file the command reads from the current directory;
* a short UTF-8 body is inlined with ``--data-raw`` (shell-quoted by :func:`shlex.quote`);
* any other body (long, binary, or multipart that does not parse) is an attachment read with
  ``--data-binary @body.json`` (or ``body.bin``), which sends it byte for byte.

Attachments are named in comment lines above the command and kept in
:attr:`CurlCommand.attachments`; :meth:`CurlCommand.save_attachments` writes them next to it.
Credentials (``X-API-Key``, ``Authorization``, ``Cookie``) are always replaced by ``***``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value
from pathlib import Path
from typing import Final

import httpx

__all__ = [
    "CREDENTIAL_HEADERS",
    "REDACTED",
    "CurlCommand",
    "curl_command",
    "redact_header",
    "redact_secrets",
]

REDACTED: Final = "***"
CREDENTIAL_HEADERS: Final = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "cookie"}
)
DEFAULT_INLINE_LIMIT: Final = 4096
"""Bodies up to this many bytes are inlined; longer ones become an attachment."""

# Headers that curl writes itself, or that httpx adds by default with the same meaning.
_CURL_OWN_HEADERS: Final = frozenset(
    {"host", "content-length", "accept-encoding", "connection", "user-agent", "transfer-encoding"}
)
_UNSAFE_FILENAME_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")
_CONTINUATION: Final = " \\\n  "


@dataclass(frozen=True, repr=False)
class CurlCommand:
    """A shell command, and the files (by name) that it reads from its working directory."""

    text: str
    attachments: Mapping[str, bytes] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"CurlCommand({self.text!r}, attachments={sorted(self.attachments)!r})"

    def save_attachments(self, directory: Path) -> list[Path]:
        """Write every attachment into ``directory``; run the command from there."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, content in self.attachments.items():
            path = directory / name
            path.write_bytes(content)
            paths.append(path)
        return paths


def curl_command(
    request: httpx.Request,
    *,
    secrets: Iterable[str] = (),
    public_values: Collection[str] = (),
    inline_limit: int = DEFAULT_INLINE_LIMIT,
) -> CurlCommand:
    """Build the curl command that sends ``request`` again.

    ``secrets`` are also replaced by ``***`` wherever else they appear (a body, a URL).
    ``public_values`` are credential header values that are not secret and stay visible, such
    as the deliberately wrong key of an authentication check.
    """
    body = _body_of(request)
    attachments: dict[str, bytes] = {}
    parts = _form_parts(request, body)
    if parts is not None:
        body_options = [_part_option(part, attachments) for part in parts]
    else:
        body_options = _body_options(request, body, attachments, inline_limit) if body else []
    options = _header_options(request, public_values, form=parts is not None)
    options.extend(body_options)
    head = ["curl", "-i", *_method_option(request.method, bool(body)), str(request.url)]
    lines = [_comment(attachments), _join([head, *options])]
    text = redact_secrets("\n".join(line for line in lines if line), secrets)
    return CurlCommand(text=text, attachments=attachments)


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each (non-empty) secret by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redact_header(name: str, value: str, public_values: Collection[str] = ()) -> str:
    """A header value fit to print: credentials are ``***`` (keeping an auth scheme)."""
    if name.lower() not in CREDENTIAL_HEADERS or value in public_values:
        return value
    scheme, _, credential = value.partition(" ")
    if name.lower() != "x-api-key" and credential:
        return f"{scheme} {REDACTED}"
    return REDACTED


# --- Building blocks ---------------------------------------------------------------------------


def _body_of(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:
        try:
            return request.read()
        except httpx.StreamError:  # a streaming body that was already sent cannot be replayed
            return b""


def _form_parts(request: httpx.Request, body: bytes) -> list[_Part] | None:
    """The parts of a well-formed multipart/form-data body; None for any other body."""
    content_type: str = request.headers.get("content-type", "")
    if not body or not content_type.lower().startswith("multipart/form-data"):
        return None
    return _multipart_parts(content_type, body)


def _header_options(
    request: httpx.Request, public_values: Collection[str], *, form: bool
) -> list[list[str]]:
    encoding = request.headers.encoding
    options = []
    for raw_name, raw_value in request.headers.raw:  # raw keeps the header names' own casing
        name, value = raw_name.decode(encoding), raw_value.decode(encoding)
        option = _header_option(name, value, public_values, form=form)
        if option:
            options.append(option)
    return options


def _method_option(method: str, has_body: bool) -> list[str]:
    if method == "HEAD":
        return ["--head"]
    if method == ("POST" if has_body else "GET"):
        return []
    return ["-X", method]


def _header_option(
    name: str, value: str, public_values: Collection[str], *, form: bool
) -> list[str]:
    lower = name.lower()
    if lower in _CURL_OWN_HEADERS or (lower == "accept" and value == "*/*"):
        return []
    if lower == "content-type" and form:
        return []  # -F makes curl write its own multipart Content-Type and boundary
    return ["-H", f"{name}: {redact_header(name, value, public_values)}"]


def _body_options(
    request: httpx.Request, body: bytes, attachments: dict[str, bytes], inline_limit: int
) -> list[list[str]]:
    content_type = request.headers.get("content-type")
    options = [] if content_type is not None else [["-H", "Content-Type:"]]
    text = _inline_text(body, inline_limit)
    if text is not None:
        return [*options, ["--data-raw", text]]
    is_json = "json" in (content_type or "").lower()
    name = _unique_name("body.json" if is_json else "body.bin", attachments)
    attachments[name] = body
    return [*options, ["--data-binary", f"@{name}"]]


def _inline_text(body: bytes, limit: int) -> str | None:
    if len(body) > limit:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(char) < 32 and char not in "\t\n" for char in text) or "\x7f" in text:
        return None
    return text


@dataclass(frozen=True)
class _Part:
    name: str
    filename: str | None
    content_type: str | None
    content: bytes


def _multipart_parts(content_type: str, body: bytes) -> list[_Part] | None:
    """Split a multipart/form-data body into its parts, or None when it is malformed.

    Hand-written because the standard library's MIME parser targets mail (it may rewrite line
    endings of binary parts) and httpx has no public multipart parser.
    """
    boundary = _header_params("Content-Type", content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        return None
    chunks = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    preamble, *sections = chunks
    if preamble or not sections or not sections[-1].startswith(b"--"):
        return None
    parts = [_parse_part(section) for section in sections[:-1]]
    return None if any(part is None for part in parts) else [p for p in parts if p]


def _parse_part(section: bytes) -> _Part | None:
    if not section.startswith(b"\r\n"):
        return None
    head, separator, content = section[2:].partition(b"\r\n\r\n")
    if not separator:
        return None
    headers = HeaderParser().parsestr(head.decode("utf-8", errors="replace"))
    disposition = headers.get("Content-Disposition", "")
    params = _header_params("Content-Disposition", disposition)
    name = _param(params, "name")
    if name is None:
        return None
    return _Part(
        name=name,
        filename=_param(params, "filename"),
        content_type=headers.get("Content-Type"),
        content=content,
    )


def _param(message: Message, key: str) -> str | None:
    value = message.get_param(key, header="content-disposition")
    return None if value is None else collapse_rfc2231_value(value)


def _header_params(name: str, value: str) -> Message:
    message = Message()
    message[name] = value
    return message


def _part_option(part: _Part, attachments: dict[str, bytes]) -> list[str]:
    if part.filename is None:
        try:
            value = part.content.decode("utf-8")
        except UnicodeDecodeError:
            value = None
        if value is not None and "\x00" not in value:
            return ["--form-string", f"{part.name}={value}"]
        local = _unique_name(f"{_safe_filename(part.name)}.bin", attachments)
        attachments[local] = part.content
        return ["-F", f"{part.name}=<{local}"]
    local = _unique_name(_safe_filename(part.filename), attachments)
    attachments[local] = part.content
    spec = f"{part.name}=@{local}"
    if local != part.filename:
        spec += f";filename={_curl_quoted(part.filename)}"
    if part.content_type:
        spec += f";type={part.content_type}"
    return ["-F", spec]


def _safe_filename(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    safe = _UNSAFE_FILENAME_CHARS.sub("_", base).strip("._")
    return safe or "upload.bin"


def _unique_name(name: str, taken: Mapping[str, bytes]) -> str:
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{stem}-{number}{dot}{suffix}"
    return candidate


def _curl_quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _comment(attachments: Mapping[str, bytes]) -> str:
    if not attachments:
        return ""
    lines = ["# Run this in a directory that holds these files (CurlCommand.save_attachments):"]
    lines += [f"#   {name}  ({len(content):,} bytes)" for name, content in attachments.items()]
    return "\n".join(lines)


def _join(options: list[list[str]]) -> str:
    return _CONTINUATION.join(shlex.join(option) for option in options)
