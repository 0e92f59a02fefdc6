"""An author's own reference recordings replace the bundled voices A and B."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conformance.engine.references import ReferenceAudioError, reference_voices, voice_references
from voicebox_api import write_audio


def test_without_files_the_bundled_voices_are_used() -> None:
    bundled = reference_voices()
    chosen = voice_references()
    assert (chosen["A"], chosen["B"]) == bundled


def test_an_authors_file_replaces_voice_a_only(tmp_path: Path) -> None:
    tone = (0.3 * np.sin(np.arange(16_000) / 16_000 * 2 * np.pi * 140)).astype(np.float32)
    path = tmp_path / "me.flac"
    path.write_bytes(write_audio(tone, 16_000, "flac"))
    chosen = voice_references([path], ["Hello, it is me."])
    assert chosen["A"].voice == "me.flac"
    assert chosen["A"].text == "Hello, it is me."
    assert chosen["A"].format == "flac"
    assert chosen["A"].sample_rate == 16_000
    assert chosen["A"].encoded("wav")[:4] == b"RIFF"
    assert chosen["B"] == reference_voices()[1]


@pytest.mark.parametrize("content", [None, b"not audio at all"])
def test_an_unusable_file_is_named_in_the_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "voice.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ReferenceAudioError, match=r"voice\.wav"):
        voice_references([path])
