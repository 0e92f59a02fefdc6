"""The bundled reference audio: speaker references A and B and the transcription clips.

The clips live in ``conformance/data/`` with a manifest of their transcripts and licence (see
its README). They ship inside the wheel, so an installed suite needs no download.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, cast

import numpy as np
import numpy.typing as npt
import soundfile as sf

from voicebox_api import AudioFormat, UndecodableAudioError, read_audio, write_audio

__all__ = [
    "ClipRole",
    "ReferenceAudioError",
    "ReferenceClip",
    "all_clips",
    "reference_voices",
    "transcription_clips",
    "voice_references",
]

ClipRole = Literal["voice", "transcription"]
_MANIFEST: Final = "manifest.json"


@dataclass(frozen=True)
class ReferenceClip:
    """One bundled clip: the file as stored, its decoded samples, transcript and provenance."""

    name: str
    role: ClipRole
    audio_bytes: bytes = field(repr=False)
    format: AudioFormat
    text: str
    """The exact transcript."""
    samples: npt.NDArray[np.float32] = field(repr=False, compare=False)
    """Mono float32 samples in [-1, 1]."""
    sample_rate: int
    voice: str
    """Who speaks, e.g. ``CMU Flite slt``."""
    licence: str

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.sample_rate

    def encoded(self, audio_format: AudioFormat) -> bytes:
        """The clip as a file of ``audio_format`` (the stored bytes when it is the stored one)."""
        if audio_format == self.format:
            return self.audio_bytes
        return write_audio(self.samples, self.sample_rate, audio_format)


def reference_voices() -> tuple[ReferenceClip, ReferenceClip]:
    """Speaker references A (a low male voice) and B (a high female voice), for SPK-1."""
    clips = {clip.name: clip for clip in all_clips()}
    return clips["voice_a"], clips["voice_b"]


class ReferenceAudioError(ValueError):
    """An author's reference recording cannot be used; the message names the file."""


def voice_references(
    paths: Sequence[Path] = (), texts: Sequence[str] = ()
) -> dict[str, ReferenceClip]:
    """References "A" and "B": the author's own recordings (``--reference-audio``, up to two,
    with ``--reference-text``) in place of the bundled ones."""
    chosen = dict(zip("AB", reference_voices(), strict=True))
    padded = [*texts, *[""] * len(paths)]
    for which, path, text in zip("AB", paths, padded, strict=False):
        chosen[which] = _author_clip(which, path, text)
    return chosen


def _author_clip(which: str, path: Path, text: str) -> ReferenceClip:
    try:
        data = path.read_bytes()
        samples, rate = read_audio(data)
    except (OSError, UndecodableAudioError) as exc:
        raise ReferenceAudioError(f"--reference-audio {path}: {exc}") from None
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("wav", "flac", "ogg", "mp3"):
        data, suffix = write_audio(samples, rate, "wav"), "wav"
    return ReferenceClip(
        name=f"reference_{which.lower()}",
        role="voice",
        audio_bytes=data,
        format=cast(AudioFormat, suffix),
        text=text,
        samples=samples,
        sample_rate=rate,
        voice=path.name,
        licence="the author's own",
    )


def transcription_clips() -> tuple[ReferenceClip, ...]:
    """Short everyday sentences in different voices, with exact transcripts."""
    return tuple(clip for clip in all_clips() if clip.role == "transcription")


@cache
def all_clips() -> tuple[ReferenceClip, ...]:
    """Every bundled clip, in manifest order; each file is checked against its digest."""
    data = resources.files("conformance") / "data"
    manifest = json.loads((data / _MANIFEST).read_text(encoding="utf-8"))
    return tuple(_load(entry, (data / entry["file"]).read_bytes()) for entry in manifest["clips"])


def _load(entry: dict[str, Any], audio_bytes: bytes) -> ReferenceClip:
    samples, sample_rate = read_audio(audio_bytes)
    pcm, _ = sf.read(io.BytesIO(audio_bytes), dtype="int16")
    digest = hashlib.sha256(np.asarray(pcm, dtype="<i2").tobytes()).hexdigest()
    if digest != entry["samples_sha256"]:
        raise RuntimeError(f"bundled clip {entry['name']} does not match its manifest digest")
    if sample_rate != entry["sample_rate"]:
        raise RuntimeError(f"bundled clip {entry['name']} has an unexpected sample rate")
    samples.setflags(write=False)
    return ReferenceClip(
        name=str(entry["name"]),
        role=cast(ClipRole, entry["role"]),
        audio_bytes=audio_bytes,
        format=cast(AudioFormat, entry["format"]),
        text=str(entry["text"]),
        samples=samples,
        sample_rate=sample_rate,
        voice=str(entry["voice"]),
        licence=str(entry["licence"]),
    )
