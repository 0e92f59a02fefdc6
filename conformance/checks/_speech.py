"""What the SPEECH-* checks share: the endpoint, its requests and a real decoder for its audio.

The endpoint is ``--speech-url``'s ``/audio/speech`` when given, else the provider's own
``/v1/audio/speech`` when it declares ``capabilities.openai_speech``. Every answer is asked for
once per session; the formats are decoded with FFmpeg's decoders (PyAV), as a player would.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import httpx
import numpy as np
import numpy.typing as npt

from conformance.engine.corpus import PLAIN_TEXTS
from conformance.engine.outcome import Blocked, NotApplicable, Unimplemented
from voicebox_api import SPEECH_PCM_SAMPLE_RATE, WRONG_API_KEY

if TYPE_CHECKING:
    from conformance.engine.session import Session
    from voicebox_api import AuthMode

TEXT: Final = PLAIN_TEXTS["walk"]
OTHER_TEXT: Final = PLAIN_TEXTS["call"]
CONTAINERS: Final = {"mp3": "mp3", "opus": "ogg", "aac": "aac", "flac": "flac", "wav": "wav"}
"""The FFmpeg demuxer that must recognise each format's file."""
_AV_HINT: Final = "pip install av (PyAV, with FFmpeg's decoders)"


@dataclass(frozen=True)
class SpeechAudio:
    samples: npt.NDArray[np.float32]
    sample_rate: int
    container: str

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.sample_rate


class UndecodableSpeech(ValueError):
    pass


def _hosted(s: Session) -> bool:
    if s.options.speech_url:
        return False
    declared = s.capabilities().openai_speech
    if declared is False:
        raise Unimplemented("capabilities.openai_speech is false")
    if declared is None:
        raise NotApplicable(
            "the provider declares no /v1/audio/speech and no speech server was given",
            "pass --speech-url URL, or declare capabilities.openai_speech",
        )
    return True


def key_given(s: Session) -> bool:
    return bool(s.options.api_key if _hosted(s) else s.options.speech_api_key)


def speech(
    s: Session,
    *,
    auth: AuthMode = "key",
    retry: bool = True,
    timeout: float | None = None,
    **fields: Any,
) -> httpx.Response:
    """POST the endpoint a body of model, input, voice and ``fields`` (None drops a member)."""
    body = {"model": s.options.speech_model, "input": TEXT, "voice": s.options.speech_voice}
    body.update(fields)
    body = {name: value for name, value in body.items() if value is not None}
    headers: dict[str, str] = {}
    if _hosted(s):
        path = "/v1/audio/speech"
        key = s.options.api_key
    else:
        path = f"{s.options.speech_url}/audio/speech"
        key = s.options.speech_api_key
    if auth == "wrong":
        headers["Authorization"] = f"Bearer {WRONG_API_KEY}"
    elif auth == "key" and key:
        headers["Authorization"] = f"Bearer {key}"
    options: dict[str, Any] = {"json": body, "headers": headers}
    if timeout is not None:
        options["timeout"] = timeout
    return s.send("POST", path, auth="none", retry=retry, **options)


def answer(s: Session, name: str, **fields: Any) -> httpx.Response:
    """The answer named ``name``, asked for once per session."""
    return s.memo(f"speech:{name}", lambda: speech(s, **fields))


def formatted(s: Session, fmt: str) -> httpx.Response:
    return answer(s, f"format-{fmt}", response_format=fmt)


def require_ok(response: httpx.Response, what: str, clause: str = "SPEECH-1") -> None:
    if response.status_code != 200:
        raise Blocked(clause, f"the speech endpoint answered {response.status_code} for {what}")


def decode(data: bytes) -> SpeechAudio:
    """Any container FFmpeg recognises, as mono float32 at its own rate."""
    try:
        import av
    except ImportError:
        raise NotApplicable("PyAV is not installed", _AV_HINT) from None
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate)
            chunks = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
            name = container.format.name
            rate = int(stream.rate)
    except (av.FFmpegError, IndexError, ValueError) as exc:
        raise UndecodableSpeech(str(exc)[:200]) from None
    if not chunks:
        raise UndecodableSpeech("no audio frames")
    return SpeechAudio(np.concatenate(chunks).astype(np.float32), rate, name)


def pcm(data: bytes) -> SpeechAudio:
    """OpenAI's pcm: s16le mono at 24 kHz (SPEECH-5)."""
    if len(data) % 2:
        raise UndecodableSpeech(f"{len(data)} bytes is not a whole number of 16-bit samples")
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return SpeechAudio(samples, SPEECH_PCM_SAMPLE_RATE, "pcm")


def decoded(s: Session, name: str, fmt: str, **fields: Any) -> SpeechAudio:
    """Answer ``name``'s audio, decoded; Blocked by SPEECH-3/5 when it does not decode."""
    response = answer(s, name, **fields)
    require_ok(response, name)
    try:
        return s.memo(f"speech-audio:{name}", lambda: _decode_as(response.content, fmt))
    except UndecodableSpeech as exc:
        raise Blocked("SPEECH-5" if fmt == "pcm" else "SPEECH-3", str(exc)) from None


def _decode_as(data: bytes, fmt: str) -> SpeechAudio:
    return pcm(data) if fmt == "pcm" else decode(data)


def data_url(wav: bytes) -> str:
    return "data:audio/wav;base64," + base64.b64encode(wav).decode("ascii")


def media_type(response: httpx.Response) -> str:
    value = str(response.headers.get("content-type", ""))
    return value.split(";", maxsplit=1)[0].strip().lower()


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
