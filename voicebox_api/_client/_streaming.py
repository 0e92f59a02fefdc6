"""What the sync and the async client share for streamed generation (SPEC.md §14).

Retries happen only before the first byte (the clients' ordinary schedule, on the status line);
once a 200 stream has begun, anything that breaks it (a cut connection, a misframed or truncated
stream, the provider's in-band error frame) is a :class:`BrokenStreamError`, never a retry and
never a short clip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from voicebox_api._client._endpoints import RequestSpec
from voicebox_api._errors import BrokenStreamError
from voicebox_api._models import STREAM_MEDIA_TYPE, GenerateRequest
from voicebox_api._stream import (
    InBandError,
    StreamChunk,
    StreamDecoder,
    StreamFramingError,
    StreamProtocolError,
)

if TYPE_CHECKING:
    from voicebox_api._client._core import ClientCore

__all__ = ["StreamReading", "stream_spec"]


def stream_spec(
    text: str, voice_prompt: Mapping[str, Any], language: str, seed: int | None
) -> RequestSpec:
    body = GenerateRequest(text=text, voice_prompt=dict(voice_prompt), language=language, seed=seed)
    return RequestSpec(
        "POST",
        "v1/generate",
        json=body.model_dump(mode="json"),
        headers={"Accept": STREAM_MEDIA_TYPE},
    )


class StreamReading:
    """Decodes one 200 stream and turns every way it can break into BrokenStreamError."""

    def __init__(self, core: ClientCore, response: httpx.Response, attempts: int) -> None:
        self._core = core
        self._response = response
        self._attempts = attempts
        self.decoder = StreamDecoder()

    def check_media_type(self) -> None:
        media = self._response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != STREAM_MEDIA_TYPE:
            raise self.broken(
                StreamFramingError(
                    f"the answer is {media or 'untyped'!r}, not {STREAM_MEDIA_TYPE}: the "
                    "provider does not stream (a v0.2 provider ignores Accept)"
                )
            )

    def feed(self, data: bytes) -> list[StreamChunk]:
        try:
            return self.decoder.feed(data)
        except StreamProtocolError as exc:
            raise self.broken(exc) from None

    def finish(self) -> None:
        try:
            self.decoder.finish()
        except StreamProtocolError as exc:
            raise self.broken(exc) from None

    def broken(self, cause: Exception) -> BrokenStreamError:
        received = self.decoder.samples_seen
        if isinstance(cause, StreamProtocolError):
            clause, reason = cause.clause, str(cause)
        else:  # the connection broke or timed out mid-stream
            clause, reason = "STR-4", f"the connection broke ({type(cause).__name__}: {cause})"
        request = self._response.request
        message = f"{request.method} {request.url}: the stream broke after {received} samples: "
        return BrokenStreamError(
            self._core._redact(message + reason),
            response=self._response,
            clause=clause,
            cause=cause,
            samples_received=received,
            curl=self._core.curl(request),
            error_body=cause.body if isinstance(cause, InBandError) else None,
            attempts=self._attempts,
        )
