"""The streamed and WAV answers the §14 checks share, fetched once per session."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import numpy.typing as npt

from conformance.engine.outcome import Blocked, Unimplemented
from conformance.engine.plan import spec
from voicebox_api import (
    STREAM_MEDIA_TYPE,
    WAV_MEDIA_TYPE,
    BrokenStreamError,
    DecodedAudio,
    ProviderError,
    StreamAudio,
    StreamDecoder,
    StreamEnd,
    StreamHeader,
    StreamProtocolError,
)

if TYPE_CHECKING:
    from conformance.engine.session import Session

SEEDED_KEY = "walk-A"
"""The stream is asked for the very request of this planned JSON generation (STR-6)."""
SENTENCES = (
    "The train left the station at noon. It crossed the river by the old mill. "
    "Then it climbed into the hills. Snow lay on the highest fields. "
    "At dusk it reached the little town by the lake."
)
"""Five short sentences, 200 characters: room for a sentence-granular stream to show (STR-7)."""


@dataclass
class ParsedStream:
    """A buffered streamed answer, decoded up to its first defect."""

    response: httpx.Response
    header: StreamHeader | None = None
    end: StreamEnd | None = None
    audio: list[npt.NDArray[np.generic]] = field(default_factory=list)
    defect: StreamProtocolError | None = None

    @property
    def samples(self) -> npt.NDArray[np.generic]:
        return np.concatenate(self.audio) if self.audio else np.zeros(0)

    def require_no_defect_before(self, clause_id: str) -> None:
        """Blocked when an earlier requirement's defect stopped the decoding."""
        if self.defect is not None and self.defect.clause < clause_id:
            raise Blocked(self.defect.clause, str(self.defect))


def require_streaming(s: Session) -> None:
    if s.capabilities().streaming is not True:
        raise Unimplemented("capabilities.streaming is not true")


def seeded_body(s: Session) -> dict[str, Any]:
    planned = spec(SEEDED_KEY)
    return planned.body(s.voice_prompt(planned.reference))


def streamed(s: Session) -> ParsedStream:
    """The seeded stream, decoded; Blocked unless it is a 200 of the stream type (STR-1)."""
    require_streaming(s)
    s.require_generation_works()
    return s.memo("stream:seeded", lambda: _parse(s, _send_stream(s, seeded_body(s))))


def stream_response(s: Session) -> httpx.Response:
    require_streaming(s)
    s.require_generation_works()
    return s.memo("stream:seeded", lambda: _parse(s, _send_stream(s, seeded_body(s)))).response


def _send_stream(s: Session, body: dict[str, Any]) -> httpx.Response:
    headers = {"Accept": STREAM_MEDIA_TYPE}
    return s.send("POST", "/v1/generate", json=body, headers=headers, retry=True)


def _parse(s: Session, response: httpx.Response) -> ParsedStream:
    del s
    parsed = ParsedStream(response)
    if not is_stream(response):
        return parsed
    decoder = StreamDecoder()
    try:
        chunks = decoder.feed(response.content)
        decoder.finish()
    except StreamProtocolError as exc:
        parsed.defect = exc
    else:
        parsed.audio = [chunk.samples for chunk in chunks if isinstance(chunk, StreamAudio)]
    parsed.header, parsed.end = decoder.header, decoder.end
    return parsed


def is_stream(response: httpx.Response) -> bool:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return response.status_code == 200 and media == STREAM_MEDIA_TYPE


def require_stream(parsed: ParsedStream) -> None:
    if not is_stream(parsed.response):
        raise Blocked("STR-1", f"the stream request was answered {parsed.response.status_code}")


@dataclass(frozen=True)
class TimedStream:
    first_audio_s: float
    total_s: float
    samples: int


def timed_stream(s: Session) -> TimedStream:
    """The five-sentence text streamed through the kit's client, timing the first audio frame
    and the end frame from the moment the request is sent; the better of two tries, so that one
    scheduling hiccup on a busy client does not pass for a fake stream."""
    require_streaming(s)
    s.require_generation_works()
    return s.memo("stream:timed", lambda: min(_timed(s), _timed(s), key=_fraction))


def _fraction(timed: TimedStream) -> float:
    return timed.first_audio_s / timed.total_s


def _timed(s: Session) -> TimedStream:
    prompt = s.voice_prompt("A")
    started = time.perf_counter()
    first: float | None = None
    samples = 0
    try:
        for chunk in s.stream_generate(SENTENCES, prompt, seed=5):
            if isinstance(chunk, StreamAudio):
                first = first if first is not None else time.perf_counter() - started
                samples += chunk.num_samples
    except BrokenStreamError as exc:
        raise Blocked(exc.clause, str(exc.message)) from None
    except ProviderError as exc:
        raise Blocked("STR-1", exc.message) from None
    total = time.perf_counter() - started
    if first is None:
        raise Blocked("STR-4", "the stream held no audio")
    return TimedStream(first_audio_s=first, total_s=total, samples=samples)


def reproducible_clip(s: Session) -> DecodedAudio:
    """The JSON answer the stream and the WAV file must equal; Blocked when the same seeded
    request gives different audio anyway (that is GEN-8's to report)."""
    whole, again = s.audio(SEEDED_KEY), s.audio(f"{SEEDED_KEY}-again")
    if whole.samples.tobytes() != again.samples.tobytes():
        raise Blocked("GEN-8", "two identical seeded requests gave different audio")
    return whole


def wav_response(s: Session) -> httpx.Response:
    if s.capabilities().wav_audio is not True:
        raise Unimplemented("capabilities.wav_audio is not true")
    s.require_generation_works()
    headers = {"Accept": WAV_MEDIA_TYPE}
    return s.memo(
        "wav:seeded",
        lambda: s.send("POST", "/v1/generate", json=seeded_body(s), headers=headers, retry=True),
    )
