"""The bundled reference audio: present, intact, described, and reproducible from Flite."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conformance.engine.references import all_clips, reference_voices, transcription_clips
from voicebox_api import read_audio

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "conformance" / "data"


def test_voice_references_are_four_to_eight_seconds_with_transcripts() -> None:
    voice_a, voice_b = reference_voices()
    assert (voice_a.name, voice_b.name) == ("voice_a", "voice_b")
    for clip in (voice_a, voice_b):
        assert clip.role == "voice"
        assert 4.0 <= clip.duration_s <= 8.0
        assert len(clip.text.split()) >= 10
    assert voice_a.voice != voice_b.voice


def test_transcription_clips_are_short_sentences_in_several_voices() -> None:
    clips = transcription_clips()
    assert 3 <= len(clips) <= 5
    assert len({clip.voice for clip in clips}) >= 3
    for clip in clips:
        assert clip.role == "transcription"
        assert 1.5 <= clip.duration_s <= 6.0
        assert clip.text.endswith((".", "?"))


def test_clips_decode_to_what_they_claim() -> None:
    for clip in all_clips():
        assert clip.format == "flac"
        samples, rate = read_audio(clip.audio_bytes)
        assert rate == clip.sample_rate == 16_000
        np.testing.assert_array_equal(samples, clip.samples)
        assert 0.5 < float(np.abs(clip.samples).max()) <= 1.0
        assert "Flite" in clip.licence


def test_clips_convert_to_every_upload_format() -> None:
    clip = reference_voices()[0]
    assert clip.encoded("flac") == clip.audio_bytes
    for audio_format in ("wav", "ogg"):
        samples, rate = read_audio(clip.encoded(audio_format))
        assert rate == clip.sample_rate
        assert abs(samples.size - clip.samples.size) < 2048


def test_bundle_is_small_and_documented() -> None:
    files = sorted(DATA.glob("*.flac"))
    manifest = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
    assert {entry["file"] for entry in manifest["clips"]} == {path.name for path in files}
    assert sum(path.stat().st_size for path in files) < 1_000_000
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for entry in manifest["clips"]:
        assert entry["file"] in readme
        assert entry["text"] in readme
    assert "Carnegie Mellon University" in readme


def test_clips_are_read_only() -> None:
    clip = transcription_clips()[0]
    with pytest.raises(ValueError, match="read-only"):
        clip.samples[0] = 0.0


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed")
def test_clips_reproduce_from_flite() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_reference_audio.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
