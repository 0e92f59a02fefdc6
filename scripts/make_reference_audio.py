"""Regenerate the bundled reference audio in ``conformance/data/`` from CMU Flite.

    python scripts/make_reference_audio.py            # write the clips and manifest.json
    python scripts/make_reference_audio.py --check    # verify the committed clips instead

Needs the ``flite`` program (Debian: ``apt-get install flite``; this was made with Flite 2.2).
Each clip is a fixed sentence spoken by a fixed Flite voice, peak-normalised to -1 dBFS and
stored as 16 kHz mono 16-bit FLAC. Flite is deterministic, so a rerun gives the same samples;
the FLAC bytes may differ between libFLAC versions, so ``manifest.json`` records a digest of
the decoded samples, and ``--check`` compares those.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

ROOT: Final = Path(__file__).resolve().parent.parent
DATA: Final = ROOT / "conformance" / "data"
SAMPLE_RATE: Final = 16_000
PEAK: Final = 10 ** (-1 / 20)
LICENCE: Final = (
    "Synthesised with CMU Flite 2.2 (Copyright (c) 1999-2016 Carnegie Mellon University; "
    "free licence, BSD-style, see conformance/data/README.md); the clips are distributed "
    "under the same terms."
)


@dataclass(frozen=True)
class ClipSpec:
    name: str
    role: str
    """``voice`` (speaker references A and B) or ``transcription``."""
    voice: str
    text: str


CLIPS: Final = (
    ClipSpec(
        name="voice_a",
        role="voice",
        voice="rms",
        text="I usually take the bus to work in the morning, and on the way I read the news "
        "on my phone.",
    ),
    ClipSpec(
        name="voice_b",
        role="voice",
        voice="slt",
        text="My friends came over for dinner last night, and we talked about our plans for "
        "the summer.",
    ),
    ClipSpec(
        name="transcribe_lights",
        role="transcription",
        voice="awb",
        text="Please remember to turn off the lights when you leave the room.",
    ),
    ClipSpec(
        name="transcribe_weather",
        role="transcription",
        voice="slt",
        text="The weather is lovely today, so we are going to the park.",
    ),
    ClipSpec(
        name="transcribe_station",
        role="transcription",
        voice="rms",
        text="Can you tell me where the nearest train station is?",
    ),
    ClipSpec(
        name="transcribe_car",
        role="transcription",
        voice="kal16",
        text="My sister bought a new car last week.",
    ),
)


def synthesise(spec: ClipSpec) -> npt.NDArray[np.int16]:
    """The clip's samples: Flite's output, normalised, at 16 kHz."""
    flite = shutil.which("flite")
    if flite is None:
        raise SystemExit("flite is not installed (Debian: apt-get install flite)")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "clip.wav"
        subprocess.run(
            [flite, "-voice", spec.voice, "-t", spec.text, "-o", str(path)],
            check=True,
            timeout=60,
        )
        samples, rate = sf.read(path, dtype="float64")
    if rate != SAMPLE_RATE or samples.ndim != 1:
        raise SystemExit(f"flite voice {spec.voice} gave {rate} Hz audio; 16 kHz mono expected")
    scaled = np.asarray(samples, dtype=np.float64) * (PEAK / np.max(np.abs(samples)))
    pcm: npt.NDArray[np.int16] = np.round(scaled * 32767.0).astype(np.int16)
    return pcm


def sample_digest(samples: npt.NDArray[np.int16]) -> str:
    return hashlib.sha256(samples.astype("<i2").tobytes()).hexdigest()


def encode_flac(samples: npt.NDArray[np.int16]) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def manifest_entry(spec: ClipSpec, samples: npt.NDArray[np.int16]) -> dict[str, object]:
    return {
        "name": spec.name,
        "file": f"{spec.name}.flac",
        "format": "flac",
        "role": spec.role,
        "voice": f"CMU Flite {spec.voice}",
        "text": spec.text,
        "sample_rate": SAMPLE_RATE,
        "num_samples": int(samples.size),
        "samples_sha256": sample_digest(samples),
        "licence": LICENCE,
    }


def write_all() -> None:
    entries = []
    for spec in CLIPS:
        samples = synthesise(spec)
        (DATA / f"{spec.name}.flac").write_bytes(encode_flac(samples))
        entries.append(manifest_entry(spec, samples))
        print(f"{spec.name}: {samples.size / SAMPLE_RATE:.2f} s, flite {spec.voice}")
    manifest = {"generator": "scripts/make_reference_audio.py", "clips": entries}
    (DATA / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def check_all() -> int:
    manifest = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
    stored = {entry["name"]: entry for entry in manifest["clips"]}
    failures = 0
    for spec in CLIPS:
        entry = stored.get(spec.name)
        fresh = manifest_entry(spec, synthesise(spec))
        committed, _ = sf.read(DATA / f"{spec.name}.flac", dtype="int16")
        if entry != fresh or sample_digest(committed) != fresh["samples_sha256"]:
            print(f"{spec.name}: differs from a fresh rendering")
            failures += 1
    print("all clips reproduce" if not failures else f"{failures} clips differ")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        return check_all()
    write_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
