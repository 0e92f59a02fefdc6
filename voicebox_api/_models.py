"""The bodies of Provider API v0.3, as pydantic models.

These models are the single source of every request and response body in SPEC.md. The
conformance checks validate against them, the reference server serves them, the benchmarks
and reports read them, and the committed ``openapi.json`` is generated from them
(``python -m voicebox_api.openapi``).

Request models are strict (``"5"`` is not an integer) and ignore unknown fields, so that a
v0.2 provider keeps working with a newer client that sends optional extras (SPEC.md §Versioning).
Response models allow unknown fields for the same reason.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

# --- Shared value types --------------------------------------------------------------------

Dtype = Literal["int16", "int32", "float32", "float64"]
"""The PCM sample types a provider may return (SPEC.md AUD-2)."""

ALLOWED_DTYPES: tuple[Dtype, ...] = get_args(Dtype)

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 48_000
MAX_SEED = 2**32 - 1
DEFAULT_MAX_TEXT_LENGTH = 500
"""Text length every provider must accept when it advertises no ``max_text_length`` (GEN-5)."""
MIN_UPLOAD_LIMIT_BYTES = 10 * 1024 * 1024
"""Every provider must accept reference uploads up to this size (VP-6)."""
MAX_FORM_PARTS = 32
"""A provider may refuse a multipart body of more parts than this (SPEC.md Appendix A)."""

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
"""A lower-case ISO 639-1 code such as ``en``."""

HealthStatus = Literal["healthy", "degraded", "loading", "unhealthy"]
READY_STATUSES: frozenset[str] = frozenset({"healthy", "degraded"})

AudioFormat = Literal["wav", "flac", "ogg", "mp3"]

OpenAIResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]

StreamGranularity = Literal["frame", "sentence"]
"""How soon a streaming provider's audio leaves (SPEC.md §14): as the model makes frames of a few
tens of milliseconds, or sentence by sentence."""

JSON_MEDIA_TYPE = "application/json"
STREAM_MEDIA_TYPE = "application/vnd.voicebox.pcm-stream"
"""The ``Accept`` type that asks ``/v1/generate`` for a framed PCM stream (SPEC.md §14)."""
WAV_MEDIA_TYPE = "audio/wav"
"""The ``Accept`` type that asks ``/v1/generate`` for the whole clip as a WAV file (BIN-1)."""


def _integral(value: Any) -> Any:
    """JSON Schema's integer includes ``3120301468.0``; so does the server (SPEC.md App. A)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class _Response(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


# --- POST /v1/generate -----------------------------------------------------------------------


class GenerateRequest(_Request):
    """Body of ``POST /v1/generate`` (GEN-1, GEN-3)."""

    text: Annotated[str, StringConstraints(min_length=1, pattern=r"\S")] = Field(
        description="The text to speak. At least one non-whitespace character, at most the "
        "provider's advertised max_text_length (500 when none is advertised).",
        examples=["Hello, this is a test."],
    )
    voice_prompt: dict[str, Any] = Field(
        description="A voice prompt exactly as returned by POST /v1/create_voice_prompt, "
        "after any number of JSON round trips. Opaque to clients.",
        json_schema_extra={"minProperties": 1},
    )
    language: LanguageCode = Field(
        default="en", description="ISO 639-1 code of the text's language."
    )
    seed: Annotated[int, Field(ge=0, le=MAX_SEED), BeforeValidator(_integral)] | None = Field(
        default=None,
        description="Sampling seed. With a seed, a provider that declares deterministic_seed "
        "returns bit-identical audio for identical requests (GEN-8). null means unseeded.",
    )


class GenerateResponse(_Response):
    """Body of a successful ``POST /v1/generate`` (GEN-2, AUD-*)."""

    audio: str = Field(
        description="Standard base64 (RFC 4648 section 4, padded) of raw little-endian mono "
        "PCM samples of type `dtype`."
    )
    sample_rate: Annotated[int, Field(ge=MIN_SAMPLE_RATE, le=MAX_SAMPLE_RATE)] = Field(
        description="Samples per second of `audio`.", examples=[24000]
    )
    dtype: Dtype = Field(description="Sample type of `audio`.", examples=["float32"])


# --- POST /v1/create_voice_prompt ----------------------------------------------------------


class CreateVoicePromptForm(_Request):
    """Multipart form of ``POST /v1/create_voice_prompt`` (VP-1)."""

    audio: bytes = Field(
        description="Reference recording: WAV, FLAC, Ogg Vorbis or MP3.",
        json_schema_extra={"format": "binary"},
    )
    reference_text: str = Field(default="", description="Transcript of the reference audio.")


class VoicePromptResponse(_Response):
    """Body of a successful ``POST /v1/create_voice_prompt`` (VP-2)."""

    voice_prompt: dict[str, Any] = Field(
        description="Opaque JSON object; clients store it and send it back unchanged."
    )


# --- GET /health -----------------------------------------------------------------------------


class Capabilities(_Response):
    """What a provider declares about itself (HLT-3). An absent field means "not declared";
    ``false`` or an empty list means "declared lacking", which the suite reports as
    UNIMPLEMENTED rather than FAIL."""

    languages: list[LanguageCode] | None = Field(
        default=None, description="ISO 639-1 codes /v1/generate accepts."
    )
    dtypes: list[Dtype] | None = Field(default=None, description="Sample types it may return.")
    sample_rates: list[Annotated[int, Field(ge=MIN_SAMPLE_RATE, le=MAX_SAMPLE_RATE)]] | None = (
        Field(default=None, description="Sample rates it may return.")
    )
    max_text_length: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Longest `text` in characters that /v1/generate accepts."
    )
    max_upload_bytes: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Largest audio upload in bytes."
    )
    audio_formats: list[AudioFormat] | None = Field(
        default=None, description="Upload formats /v1/create_voice_prompt accepts."
    )
    deterministic_seed: bool | None = Field(
        default=None, description="Whether identical seeded requests give bit-identical audio."
    )
    transcribe: bool | None = Field(default=None, description="Whether /v1/transcribe exists.")
    openai_transcriptions: bool | None = Field(
        default=None, description="Whether /v1/audio/transcriptions exists."
    )
    transcribe_languages: list[LanguageCode] | None = Field(
        default=None, description="ISO 639-1 codes the transcription endpoints accept."
    )
    openai_speech: bool | None = Field(
        default=None, description="Whether /v1/audio/speech exists (SPEC.md section 15)."
    )
    streaming: bool | None = Field(
        default=None,
        description="Whether /v1/generate answers Accept: application/vnd.voicebox.pcm-stream "
        "with a framed PCM stream (v0.3).",
    )
    stream_granularity: StreamGranularity | None = Field(
        default=None, description="How soon streamed audio leaves: per model frame or sentence."
    )
    wav_audio: bool | None = Field(
        default=None, description="Whether /v1/generate answers Accept: audio/wav (v0.3)."
    )


class HealthResponse(_Response):
    """Body of ``GET /health`` (HLT-1..3, VER-1)."""

    status: HealthStatus = Field(
        description="healthy and degraded answer 200; loading and "
        "unhealthy answer 503 with Retry-After."
    )
    model: str = Field(examples=["Qwen3-TTS-12Hz-1.7B-Base"])
    device: str = Field(examples=["cuda:0"])
    api_version: Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+$")] | None = Field(
        default=None,
        description="The Provider API version implemented, MAJOR.MINOR.",
        examples=["0.3"],
    )
    capabilities: Capabilities | None = None


# --- POST /v1/transcribe ----------------------------------------------------------------------


class TranscribeForm(_Request):
    """Multipart form of ``POST /v1/transcribe`` (TRN-1)."""

    audio: bytes = Field(description="Audio to transcribe.", json_schema_extra={"format": "binary"})
    language: LanguageCode | None = Field(
        default=None, description="ISO 639-1 code; omitted means detect."
    )


class TranscribeResponse(_Response):
    """Body of a successful ``POST /v1/transcribe`` (TRN-1)."""

    text: str


# --- POST /v1/audio/transcriptions (OpenAI-compatible) ----------------------------------------


class OpenAITranscriptionForm(_Request):
    """Multipart form of ``POST /v1/audio/transcriptions``, as OpenAI documents it (OAI-1)."""

    file: bytes = Field(description="Audio to transcribe.", json_schema_extra={"format": "binary"})
    model: str = Field(min_length=1, examples=["whisper-1"])
    language: LanguageCode | None = None
    prompt: str | None = None
    response_format: OpenAIResponseFormat = "json"
    temperature: Annotated[float, Field(ge=0, le=1)] = 0.0
    timestamp_granularities: list[Literal["word", "segment"]] | None = Field(
        default=None,
        alias="timestamp_granularities[]",
        description="Only with response_format=verbose_json.",
    )


class OpenAITranscription(_Response):
    """``response_format=json`` (OAI-1)."""

    text: str


class OpenAISegment(_Response):
    id: int
    seek: int = 0
    start: float
    end: float
    text: str
    tokens: list[int] = Field(default_factory=list)
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0


class OpenAIWord(_Response):
    word: str
    start: float
    end: float


class OpenAIVerboseTranscription(_Response):
    """``response_format=verbose_json`` (OAI-3)."""

    task: Literal["transcribe"] = "transcribe"
    language: str
    duration: float
    text: str
    segments: list[OpenAISegment]
    words: list[OpenAIWord] | None = None


class OpenAIError(_Response):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorEnvelope(_Response):
    """Every error of the OpenAI-compatible endpoint (OAI-6)."""

    error: OpenAIError


# --- POST /v1/audio/speech (OpenAI-compatible, SPEC.md section 15) ------------------------------

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
SPEECH_FORMATS: tuple[SpeechFormat, ...] = ("mp3", "opus", "aac", "flac", "wav", "pcm")
SpeechStreamFormat = Literal["sse", "audio"]
SPEECH_PCM_SAMPLE_RATE = 24_000
"""``response_format=pcm`` is signed 16-bit little-endian mono at this rate (SPEECH-5)."""
MAX_SPEECH_INPUT = 4096
MIN_SPEECH_SPEED = 0.25
MAX_SPEECH_SPEED = 4.0


class SpeechVoiceId(_Request):
    """A custom voice named by id, as OpenAI's SDK sends it: ``{"id": "voice_1234"}``."""

    id: Annotated[str, StringConstraints(min_length=1)]


class SpeechRequest(_Request):
    """Body of ``POST /v1/audio/speech``: OpenAI's fields, then vLLM-Omni's extension."""

    model: str = Field(examples=["tts-1", "Qwen/Qwen3-TTS-12Hz-1.7B-Base"])
    input: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_SPEECH_INPUT, pattern=r"\S")
    ] = Field(description="The text to speak.")
    voice: Annotated[str, StringConstraints(min_length=1)] | SpeechVoiceId = Field(
        description="A voice the server names, or {id}.", examples=["alloy"]
    )
    instructions: Annotated[str, StringConstraints(max_length=MAX_SPEECH_INPUT)] | None = None
    response_format: SpeechFormat = "mp3"
    speed: Annotated[float, Field(ge=MIN_SPEECH_SPEED, le=MAX_SPEECH_SPEED)] = 1.0
    stream_format: SpeechStreamFormat = "audio"
    # vLLM-Omni's extension (examples/online_serving/qwen3_tts/README.md)
    task_type: Literal["CustomVoice", "VoiceDesign", "Base"] | None = None
    language: str | None = Field(
        default=None, description="A language name (English, Auto...) or an ISO 639-1 code."
    )
    ref_audio: str | None = Field(
        default=None,
        description="The reference recording as a data: URL (data:audio/wav;base64,...). "
        "URLs of any other scheme are refused with 400 and never fetched (SPEECH-18).",
    )
    ref_text: str | None = Field(default=None, description="The transcript of ref_audio.")
    x_vector_only_mode: bool | None = None
    max_new_tokens: Annotated[int, Field(ge=1), BeforeValidator(_integral)] | None = None
    initial_codec_chunk_frames: Annotated[int, Field(ge=0), BeforeValidator(_integral)] | None = (
        None
    )
    stream: bool = Field(
        default=False, description="Stream raw PCM as it is made; needs response_format=pcm."
    )
    seed: Annotated[int, Field(ge=0, le=MAX_SEED), BeforeValidator(_integral)] | None = None

    @property
    def voice_name(self) -> str:
        return self.voice if isinstance(self.voice, str) else self.voice.id


class SpeechUsage(_Response):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class SpeechAudioDeltaEvent(_Response):
    """One ``stream_format=sse`` chunk: base64 of the next bytes of the file (SPEECH-13)."""

    type: Literal["speech.audio.delta"] = "speech.audio.delta"
    audio: str


class SpeechAudioDoneEvent(_Response):
    """The last ``stream_format=sse`` event (SPEECH-13)."""

    type: Literal["speech.audio.done"] = "speech.audio.done"
    usage: SpeechUsage


# --- Errors of the Voicebox endpoints ---------------------------------------------------------


class ValidationIssue(_Response):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(_Response):
    """Every error response of the Voicebox endpoints (ERR-1): FastAPI's ``{"detail": ...}``."""

    detail: str | list[ValidationIssue]


# --- The streaming answer of /v1/generate (SPEC.md §14) ------------------------------------------


class StreamHeader(_Response):
    """The payload of a stream's first frame: what the samples that follow are."""

    sample_rate: Annotated[int, Field(ge=MIN_SAMPLE_RATE, le=MAX_SAMPLE_RATE)] = Field(
        description="Samples per second.", examples=[24000]
    )
    dtype: Dtype = Field(description="Sample type of every audio frame.", examples=["float32"])
    channels: Literal[1] = Field(default=1, description="Always 1: the audio is mono.")


class StreamEnd(_Response):
    """The payload of a complete stream's last frame."""

    total_samples: Annotated[int, Field(ge=0)] = Field(
        description="How many samples the audio frames held, all together."
    )


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    GenerateResponse,
    VoicePromptResponse,
    HealthResponse,
    TranscribeResponse,
    OpenAITranscription,
    OpenAIVerboseTranscription,
    OpenAIErrorEnvelope,
    SpeechAudioDeltaEvent,
    SpeechAudioDoneEvent,
    ErrorBody,
    StreamHeader,
    StreamEnd,
)
