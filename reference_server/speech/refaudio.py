"""``ref_audio``: a ``data:`` URL, decoded here; no other scheme is ever fetched (SPEC.md A.20).

A server that fetched ``http(s)://`` or read ``file://`` references on its clients' behalf could
be steered at hosts and files only it can reach (server-side request forgery), so anything but
``data:`` is refused with 400 before a connection or a file is opened.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from reference_server.errors import ApiError

__all__ = ["data_url_bytes"]

_PARAM: Final = "ref_audio"


def _refuse(message: str, code: str = "invalid_ref_audio") -> ApiError:
    return ApiError(400, message, code=code, param=_PARAM)


def data_url_bytes(url: str, *, limit: int) -> bytes:
    """The bytes of ``data:[<type>][;base64],<data>``; 413 when they exceed ``limit``."""
    scheme, _, rest = url.partition(":")
    if scheme.strip().lower() != "data" or not rest:
        raise _refuse(
            "ref_audio must be a data: URL (data:audio/wav;base64,...); this server never "
            "fetches http(s):// or file:// references",
            code="ref_audio_not_data_url",
        )
    header, comma, payload = rest.partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise _refuse("ref_audio must be a base64 data: URL (data:<type>;base64,<bytes>)")
    if len(payload) * 3 // 4 > limit + 3:
        raise _too_large(limit)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse("ref_audio is not valid base64") from None
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise _refuse("ref_audio is empty")
    return data


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"ref_audio is larger than this server's limit of {limit} bytes",
        code="ref_audio_too_large",
        param=_PARAM,
    )
