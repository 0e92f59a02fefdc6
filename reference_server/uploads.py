"""Multipart uploads: read within limits, decode from memory, never trust the filename.

The client's filename is never used: not for a path, not to guess the format (the bytes are
sniffed by ``voicebox_api._audiofile.read_audio``). Starlette's parser spools a large part to an
anonymous ``tempfile.SpooledTemporaryFile`` (a server-made name), so concurrent uploads never
share a path. Decoding runs on worker threads, a bounded number at a time, because a decoded
upload can be many times its encoded size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import anyio
import numpy as np
import numpy.typing as npt
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from reference_server.errors import ApiError
from voicebox_api import MAX_FORM_PARTS, AudioTooLargeError, UndecodableAudioError, read_audio

__all__ = ["FORM_OVERHEAD_BYTES", "DecodedUpload", "UploadReader", "text_field"]

FORM_OVERHEAD_BYTES: Final = 1024 * 1024
"""What a multipart body may hold beyond its file: boundaries, headers, text fields."""
_MAX_TEXT_FIELD_BYTES: Final = 256 * 1024
_MAX_PARTS: Final = MAX_FORM_PARTS
_DECODED_SAMPLE_BYTES: Final = 4
"""Decoded samples are float32."""


@dataclass(frozen=True)
class DecodedUpload:
    samples: npt.NDArray[np.float32]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return float(self.samples.shape[0]) / self.sample_rate


class UploadReader:
    """Reads one audio file part out of a multipart request and decodes it."""

    def __init__(
        self,
        *,
        max_upload_bytes: int,
        max_audio_seconds: float,
        max_decoded_bytes: int,
        decoders: int,
        max_concurrent: int,
    ) -> None:
        self.max_upload_bytes = max_upload_bytes
        self.max_audio_seconds = max_audio_seconds
        self.max_decoded_bytes = max_decoded_bytes
        self.max_concurrent = max_concurrent
        self._decoders = decoders
        self._limiter: anyio.CapacityLimiter | None = None
        self._active = 0

    @property
    def active(self) -> int:
        return self._active

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of ``max_concurrent`` upload slots for a whole request, or refuse it with
        503 before its body is read: uploads in memory (raw and decoded) stay bounded."""
        if self._active >= self.max_concurrent:
            raise ApiError(
                503,
                "the server is handling as many uploads as it takes; retry shortly",
                code="uploads_busy",
                headers={"Retry-After": "1"},
            )
        self._active += 1
        try:
            yield
        finally:
            self._active -= 1

    @asynccontextmanager
    async def form(
        self, request: Request, file_field: str
    ) -> AsyncIterator[tuple[bytes, FormData]]:
        """The file part's bytes and the whole form, closed (spool files removed) on exit."""
        _require_multipart(request, file_field)
        async with request.form(
            max_files=_MAX_PARTS, max_fields=_MAX_PARTS, max_part_size=_MAX_TEXT_FIELD_BYTES
        ) as form:
            part = form.get(file_field)
            if part is None:
                raise ApiError(
                    400,
                    f"the multipart body has no file part {file_field!r}",
                    code="missing_upload",
                    param=file_field,
                )
            if not isinstance(part, UploadFile):
                raise ApiError(
                    400,
                    f"{file_field!r} must be a file part, not a text field",
                    code="missing_upload",
                    param=file_field,
                )
            if part.size is not None and part.size > self.max_upload_bytes:
                raise self._too_large(file_field)
            data = await part.read()
            if len(data) > self.max_upload_bytes:
                raise self._too_large(file_field)
            yield data, form

    async def decode(
        self, data: bytes, *, param: str, undecodable_status: int = 415
    ) -> DecodedUpload:
        """Decode an upload off the event loop; 400 when empty, ``undecodable_status`` when not
        audio (415 on the Voicebox endpoints; OpenAI's endpoint answers 400, OAI-10)."""
        if not data:
            raise ApiError(400, "the upload is empty", code="empty_upload", param=param)
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._decoders)
        return await anyio.to_thread.run_sync(
            self._decode, data, param, undecodable_status, limiter=self._limiter
        )

    def _decode(self, data: bytes, param: str, undecodable_status: int) -> DecodedUpload:
        """Decoded within both caps, checked from the header first (no decompression bombs)."""
        try:
            samples, sample_rate = read_audio(
                data,
                max_samples=self.max_decoded_bytes // _DECODED_SAMPLE_BYTES,
                max_seconds=self.max_audio_seconds,
            )
        except AudioTooLargeError as exc:
            code = "audio_too_long" if exc.too_long else "audio_too_large"
            raise ApiError(413, str(exc), code=code, param=param) from None
        except UndecodableAudioError as exc:
            raise ApiError(
                undecodable_status, str(exc), code="unsupported_audio", param=param
            ) from None
        return DecodedUpload(samples=samples, sample_rate=sample_rate)

    def _too_large(self, param: str) -> ApiError:
        return ApiError(
            413,
            f"the upload is larger than this server's limit of {self.max_upload_bytes} bytes",
            code="upload_too_large",
            param=param,
        )


def text_field(form: FormData, name: str) -> str | None:
    """A text field's value; a file part where text belongs is a client mistake (400)."""
    value = form.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ApiError(
        400, f"{name!r} must be a text field, not a file", code="bad_request", param=name
    )


def _require_multipart(request: Request, file_field: str) -> None:
    """Forms pass (a url-encoded one then lacks its file: 400); other content types are 415."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return
    if not content_type and request.headers.get("content-length", "0") == "0":
        raise ApiError(
            400,
            f"send a multipart/form-data body with a file part {file_field!r}",
            code="missing_upload",
            param=file_field,
        )
    raise ApiError(
        415,
        f"send multipart/form-data with a file part {file_field!r}, not {content_type[:80]!r}",
        code="unsupported_media_type",
        param=file_field,
    )
