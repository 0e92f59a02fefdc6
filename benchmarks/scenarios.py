"""How each benchmark scenario builds its requests: the one place both load generators use.

The locustfile and the open-loop runner send the exact bytes that :class:`RequestFactory`
builds (bodies from ``voicebox_api._models``, multipart encoded by httpx), so a scenario means the
same thing, and counts the same request bytes, whichever tool drives it.
"""

from __future__ import annotations

import importlib
import itertools
import json
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import httpx
import numpy as np

from benchmarks.results import Operation
from voicebox_api import MAX_SEED, STREAM_MEDIA_TYPE, GenerateRequest, write_audio

__all__ = [
    "DEFAULT_CORPUS",
    "DIALECTS",
    "OPERATION_PATHS",
    "SCENARIOS",
    "SPEECH_PATH",
    "Dialect",
    "PreparedRequest",
    "Reference",
    "RequestFactory",
    "ScenarioName",
    "ScenarioSettings",
    "SeedPolicy",
    "default_references",
    "default_transcription_audio",
    "load_corpus",
    "load_references",
    "parse_mix",
    "tone_reference",
]

ScenarioName = Literal["generate", "clone-and-generate", "transcribe", "mixed", "health-under-load"]
SeedPolicy = Literal["fixed", "per-request", "none"]
Dialect = Literal["voicebox", "openai-speech"]
"""How ``generate`` is asked for: Voicebox's ``/v1/generate`` with a voice prompt, or OpenAI's
``/v1/audio/speech`` (SPEC.md §15) with a named voice and ``response_format=pcm``."""
DIALECTS: Final[tuple[Dialect, ...]] = ("voicebox", "openai-speech")
SPEECH_PATH: Final = "/v1/audio/speech"

SCENARIOS: Final[tuple[ScenarioName, ...]] = (
    "generate",
    "clone-and-generate",
    "transcribe",
    "mixed",
    "health-under-load",
)

OPERATION_PATHS: Final[Mapping[Operation, tuple[str, str]]] = {
    "generate": ("POST", "/v1/generate"),
    "create_voice_prompt": ("POST", "/v1/create_voice_prompt"),
    "transcribe": ("POST", "/v1/transcribe"),
    "health": ("GET", "/health"),
    "null": ("GET", "/health"),
}

DEFAULT_CORPUS: Final = Path(__file__).with_name("data") / "corpus.txt"

# Default operation weights per scenario. "generate" steps need a voice prompt; the scenario says
# whether each user makes its own (clone-and-generate) or all share one made at setup.
_DEFAULT_MIXES: Final[Mapping[ScenarioName, Mapping[Operation, int]]] = {
    "generate": {"generate": 1},
    "clone-and-generate": {"generate": 1},
    "transcribe": {"transcribe": 1},
    "mixed": {"generate": 6, "transcribe": 2, "create_voice_prompt": 1, "health": 1},
    "health-under-load": {"generate": 4, "health": 1},
}


@dataclass(frozen=True)
class Reference:
    """A reference recording for voice cloning, as the bytes of an audio file."""

    name: str
    audio: bytes
    text: str


@dataclass(frozen=True)
class PreparedRequest:
    """A fully encoded request: both load generators send exactly these bytes."""

    operation: Operation
    method: str
    path: str
    body: bytes
    headers: Mapping[str, str]
    request_id: str
    dialect: Dialect = "voicebox"

    @property
    def size(self) -> int:
        """Bytes on the wire for the body (headers are not counted)."""
        return len(self.body)


@dataclass(frozen=True)
class ScenarioSettings:
    """Everything that shapes a scenario's requests; both tools build it from their options."""

    scenario: ScenarioName = "generate"
    texts: Sequence[str] = ()
    references: Sequence[Reference] = ()
    transcription_audio: Sequence[Reference] = ()
    """What ``/v1/transcribe`` uploads; empty means the references."""
    language: str = "en"
    api_key: str | None = None
    seed_policy: SeedPolicy = "per-request"
    seed: int = 1
    mix: Mapping[Operation, int] | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    dialect: Dialect = "voicebox"
    speech_model: str = "tts-1"
    speech_voice: str = "alloy"
    stream: bool = False
    """Ask /v1/generate for a stream (SPEC.md §14) instead of the JSON answer."""

    def weights(self) -> Mapping[Operation, int]:
        return self.mix if self.mix is not None else _DEFAULT_MIXES[self.scenario]

    @property
    def prompt_per_user(self) -> bool:
        """Whether each user clones its own voice (the Voicebox workflow) or shares one."""
        return self.scenario == "clone-and-generate"

    @property
    def needs_voice_prompt(self) -> bool:
        return "generate" in self.weights() and self.dialect == "voicebox"


class RequestFactory:
    """Builds the requests of one scenario. One instance per user (or per open-loop run).

    ``stream`` separates the random streams of users that share a seed, so that each user gets
    its own, reproducible, sequence of texts and operations.
    """

    def __init__(self, settings: ScenarioSettings, stream: int = 0) -> None:
        if not settings.texts:
            raise ValueError("the corpus is empty")
        if not settings.references:
            raise ValueError("no reference audio")
        self.settings = settings
        self._rng = random.Random(f"{settings.seed}:{stream}")
        self._ids = itertools.count()
        self._id_prefix = f"{uuid.uuid4().hex[:8]}-{stream}"
        weights = settings.weights()
        self._operations: list[Operation] = list(weights)
        self._weights = [weights[o] for o in self._operations]
        self._encoded: dict[tuple[Operation, str], tuple[bytes, str]] = {}

    def next_operation(self) -> Operation:
        return self._rng.choices(self._operations, self._weights)[0]

    def build(
        self, operation: Operation, voice_prompt: Mapping[str, Any] | None
    ) -> PreparedRequest:
        """The next request for ``operation``; ``generate`` needs a voice prompt."""
        if operation == "generate" and self.settings.dialect == "openai-speech":
            return self.speech()
        if operation == "generate":
            if voice_prompt is None:
                raise ValueError("generate needs a voice prompt")
            return self.generate(voice_prompt)
        if operation == "create_voice_prompt":
            return self.create_voice_prompt()
        if operation == "transcribe":
            return self.transcribe()
        return self._prepare(operation, b"", {})

    def generate(self, voice_prompt: Mapping[str, Any]) -> PreparedRequest:
        body = GenerateRequest(
            text=self._rng.choice(list(self.settings.texts)),
            voice_prompt=dict(voice_prompt),
            language=self.settings.language,
            seed=self._next_seed(),
        )
        return self._prepare(
            "generate",
            json.dumps(body.model_dump(mode="json"), separators=(",", ":")).encode(),
            {
                "Content-Type": "application/json",
                "Accept": STREAM_MEDIA_TYPE if self.settings.stream else "application/json",
            },
        )

    def speech(self) -> PreparedRequest:
        """``generate`` in the openai-speech dialect: the same text and seed sequence as
        Voicebox's, as raw PCM (the seed is vLLM-Omni's extension; ``--seed-policy none`` for
        servers that refuse unknown members)."""
        body: dict[str, Any] = {
            "model": self.settings.speech_model,
            "input": self._rng.choice(list(self.settings.texts)),
            "voice": self.settings.speech_voice,
            "response_format": "pcm",
        }
        seed = self._next_seed()
        if seed is not None:
            body["seed"] = seed
        return self._prepare(
            "generate",
            json.dumps(body, separators=(",", ":")).encode(),
            {"Content-Type": "application/json", "Accept": "audio/pcm"},
            path=SPEECH_PATH,
        )

    def create_voice_prompt(self, reference: Reference | None = None) -> PreparedRequest:
        chosen = reference or self._rng.choice(list(self.settings.references))
        return self._multipart("create_voice_prompt", chosen, {"reference_text": chosen.text})

    def transcribe(self) -> PreparedRequest:
        pool = self.settings.transcription_audio or self.settings.references
        chosen = self._rng.choice(list(pool))
        return self._multipart("transcribe", chosen, {"language": self.settings.language})

    def _next_seed(self) -> int | None:
        policy = self.settings.seed_policy
        if policy == "none":
            return None
        if policy == "fixed":
            return self.settings.seed % (MAX_SEED + 1)
        return self._rng.randint(0, MAX_SEED)

    def _multipart(
        self, operation: Operation, reference: Reference, fields: dict[str, str]
    ) -> PreparedRequest:
        # httpx encodes the multipart body once per reference; later requests reuse the bytes,
        # so that building a request costs the load generator next to nothing.
        key = (operation, reference.name)
        if key not in self._encoded:
            encoded = httpx.Request(
                "POST",
                "http://encoder.invalid/",
                files={"audio": (reference.name, reference.audio, "application/octet-stream")},
                data=fields,
            )
            self._encoded[key] = (encoded.read(), encoded.headers["content-type"])
        body, content_type = self._encoded[key]
        return self._prepare(operation, body, {"Content-Type": content_type})

    def _prepare(
        self,
        operation: Operation,
        body: bytes,
        headers: Mapping[str, str],
        *,
        path: str | None = None,
    ) -> PreparedRequest:
        method, default_path = OPERATION_PATHS[operation]
        path = path or default_path
        request_id = f"{self._id_prefix}-{next(self._ids)}"
        all_headers = {**self.settings.extra_headers, **headers, "X-Request-ID": request_id}
        if self.settings.api_key and path == SPEECH_PATH:
            all_headers["Authorization"] = f"Bearer {self.settings.api_key}"
        elif self.settings.api_key and path.startswith("/v1/"):
            all_headers["X-API-Key"] = self.settings.api_key
        dialect: Dialect = "openai-speech" if path == SPEECH_PATH else "voicebox"
        return PreparedRequest(operation, method, path, body, all_headers, request_id, dialect)


def load_corpus(path: str | Path | None = None) -> list[str]:
    """Texts, one per line; blank lines and ``#`` comments are skipped."""
    source = Path(path) if path else DEFAULT_CORPUS
    texts = [
        line.strip()
        for line in source.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not texts:
        raise ValueError(f"{source.name}: no texts")
    return texts


def load_references(paths: Sequence[str | Path]) -> list[Reference]:
    """Audio files as references; a sidecar ``<name>.txt`` holds each one's transcript."""
    references = []
    for raw in paths:
        path = Path(raw)
        transcript = path.with_suffix(".txt")
        text = transcript.read_text(encoding="utf-8").strip() if transcript.exists() else ""
        references.append(Reference(path.name, path.read_bytes(), text))
    return references


def tone_reference(seconds: float = 2.0, sample_rate: int = 24_000) -> Reference:
    """A generated, speech-like reference (a vowel-ish harmonic tone at a syllable rate).

    The fallback when the kit's bundled recordings are not installed.
    """
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    pitch = 140.0 * (1.0 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t) ** 2
    samples = (0.25 * voice * syllables / 2.3).astype(np.float32)
    return Reference("tone.wav", write_audio(samples, sample_rate), "A generated reference tone.")


def _bundled(role: str) -> list[Reference]:
    """The kit's bundled clips (``conformance.engine.references``), when this install has them."""
    try:
        references = importlib.import_module("conformance.engine.references")
    except ImportError:
        return []
    clips = references.all_clips()
    return [
        Reference(f"{clip.name}.{clip.format}", clip.audio_bytes, clip.text)
        for clip in clips
        if clip.role == role
    ]


def default_references() -> list[Reference]:
    """Voices to clone: the kit's bundled speaker references, else a generated tone."""
    return _bundled("voice") or [tone_reference()]


def default_transcription_audio() -> list[Reference]:
    """Clips to transcribe: the kit's bundled transcription clips, else the references."""
    return _bundled("transcription") or default_references()


def parse_mix(spec: str) -> dict[Operation, int]:
    """``generate=6,transcribe=2,health=1`` -> weights; unknown operations are refused."""
    mix: dict[Operation, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, weight = item.partition("=")
        if name not in OPERATION_PATHS or name == "null":
            raise ValueError(f"unknown operation {name!r} in mix {spec!r}")
        mix[name] = int(weight or "1")  # type: ignore[index]
    if not mix or any(w < 0 for w in mix.values()) or sum(mix.values()) == 0:
        raise ValueError(f"mix {spec!r} needs at least one positive weight")
    return mix
