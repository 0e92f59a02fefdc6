"""Calibrate the local ASR judge: how well Whisper tiny.en hears the weight-free voices.

For every voice (flite kal, awb, rms, slt; espeak-ng en-us and en) and every sentence of a set
of plain everyday English sentences, synthesise the sentence, transcribe it with
``LocalWhisperJudge`` and score the transcript against its own sentence (CER, WER) and against
the closest *other* sentence (the margin INT-1 relies on). Prints one table row per voice, the
real-time factor of the judge, and the bound the figures suggest for ``max_cer``.

    python -m measurements.asr_judge_calibration [--voices flite:slt espeak:en-us ...]

The espeak-ng voices come from the reference server's espeak engine (the libespeak-ng bundled
by ``espeakng-loader``), plain: no steering towards a reference.
flite voices need the ``flite`` program (Debian: ``apt-get install flite``) and are skipped
without it. Timings depend on the machine; run on a quiet one and read them as provisional.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

from conformance.judges.asr import AsrJudge, LocalWhisperJudge, cer, wer
from testkit.speech import synthesize_espeak

__all__ = [
    "SENTENCES",
    "VoiceFigures",
    "calibrate_voice",
    "main",
    "synthesize",
    "synthesize_flite",
]

SENTENCES: Final[tuple[str, ...]] = (
    "The weather is nice today, so we are going for a walk in the park.",
    "Please remember to buy milk and bread on your way home.",
    "My brother works at the hospital near the train station.",
    "Could you send me the report before the meeting tomorrow morning?",
    "We had dinner with our neighbours last night and talked for hours.",
    "The children are playing football in the garden after school.",
    "I think the restaurant on the corner closes early on Sundays.",
    "She opened the window because the room was getting too warm.",
    "Our flight was delayed, so we waited at the airport for a long time.",
    "He likes to read the newspaper with a cup of coffee every morning.",
)
DEFAULT_VOICES: Final = (
    "flite:kal",
    "flite:awb",
    "flite:rms",
    "flite:slt",
    "espeak:en-us",
    "espeak:en",
)
_FLITE_TIMEOUT_S: Final = 30


def synthesize_flite(text: str, voice: str = "slt") -> tuple[npt.NDArray[np.float32], int]:
    """Speak ``text`` with the ``flite`` program: (samples, rate). Needs flite on PATH."""
    program = shutil.which("flite")
    if program is None:
        raise FileNotFoundError("flite is not installed (Debian: apt-get install flite)")
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "speech.wav"
        subprocess.run(
            [program, "-voice", voice, "-t", text, "-o", str(out)],
            check=True,
            capture_output=True,
            timeout=_FLITE_TIMEOUT_S,
        )
        samples, rate = sf.read(out, dtype="float32")
    return np.asarray(samples, dtype=np.float32), int(rate)


def synthesize(voice: str, text: str) -> tuple[npt.NDArray[np.float32], int]:
    """``voice`` is ``flite:NAME`` or ``espeak:NAME``."""
    engine, _, name = voice.partition(":")
    if engine == "flite":
        return synthesize_flite(text, name)
    if engine == "espeak":
        return synthesize_espeak(text, name)
    raise ValueError(f"unknown voice {voice!r}; expected flite:NAME or espeak:NAME")


@dataclass(frozen=True)
class VoiceFigures:
    voice: str
    own_cer: tuple[float, ...]
    own_wer: tuple[float, ...]
    closest_other_cer: tuple[float, ...]
    """For each clip, its CER against the closest sentence that is not its own."""
    closest_other_wer: tuple[float, ...]
    audio_s: float
    transcribe_s: float
    misheard: tuple[tuple[str, str], ...] = ()
    """(sentence, transcript) of every clip with a CER above 0."""

    @property
    def separated(self) -> int:
        """Clips whose transcript is closer to their own sentence than to any other (INT-1)."""
        return sum(
            own < other for own, other in zip(self.own_cer, self.closest_other_cer, strict=True)
        )

    @property
    def rtf(self) -> float:
        return self.transcribe_s / self.audio_s


def calibrate_voice(judge: AsrJudge, voice: str, sentences: Sequence[str]) -> VoiceFigures:
    own_cer, own_wer, other_cer, other_wer = [], [], [], []
    misheard: list[tuple[str, str]] = []
    audio_s = transcribe_s = 0.0
    for sentence in sentences:
        samples, rate = synthesize(voice, sentence)
        started = time.perf_counter()
        transcript = judge.transcribe(samples, rate)
        transcribe_s += time.perf_counter() - started
        audio_s += len(samples) / rate
        if cer(sentence, transcript) > 0:
            misheard.append((sentence, transcript))
        others = [other for other in sentences if other != sentence]
        own_cer.append(cer(sentence, transcript))
        own_wer.append(wer(sentence, transcript))
        other_cer.append(min(cer(other, transcript) for other in others))
        other_wer.append(min(wer(other, transcript) for other in others))
    return VoiceFigures(
        voice=voice,
        own_cer=tuple(own_cer),
        own_wer=tuple(own_wer),
        closest_other_cer=tuple(other_cer),
        closest_other_wer=tuple(other_wer),
        audio_s=audio_s,
        transcribe_s=transcribe_s,
        misheard=tuple(misheard),
    )


def _row(figures: VoiceFigures) -> str:
    return (
        f"| {figures.voice} | {statistics.mean(figures.own_cer):.3f} "
        f"| {max(figures.own_cer):.3f} | {statistics.mean(figures.own_wer):.3f} "
        f"| {max(figures.own_wer):.3f} | {min(figures.closest_other_cer):.3f} "
        f"| {min(figures.closest_other_wer):.3f} "
        f"| {figures.separated}/{len(figures.own_cer)} | {figures.rtf:.3f} |"
    )


def _available(voice: str) -> bool:
    return not voice.startswith("flite:") or shutil.which("flite") is not None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--voices", nargs="+", default=list(DEFAULT_VOICES))
    parser.add_argument("--cpu-threads", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="list every misheard clip")
    args = parser.parse_args(argv)

    judge = LocalWhisperJudge(cpu_threads=args.cpu_threads)
    judge.transcribe(*synthesize_espeak("warm up"))
    print(f"judge: {judge.name} ({judge.version}); {len(SENTENCES)} sentences per voice")
    print(
        "| voice | mean CER | max CER | mean WER | max WER "
        "| min CER vs other | min WER vs other | INT-1 separated | RTF |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    results: list[VoiceFigures] = []
    for voice in args.voices:
        if not _available(voice):
            print(f"| {voice} | skipped: flite is not installed |||||||")
            continue
        figures = calibrate_voice(judge, voice, SENTENCES)
        results.append(figures)
        print(_row(figures), flush=True)
    if not results:
        return 1
    worst_own = max(max(figures.own_cer) for figures in results)
    closest_other = min(min(figures.closest_other_cer) for figures in results)
    total_rtf = sum(f.transcribe_s for f in results) / sum(f.audio_s for f in results)
    print(
        f"\nworst own-sentence CER {worst_own:.3f}; lowest CER against another sentence "
        f"{closest_other:.3f}; overall RTF {total_rtf:.3f}"
    )
    print(f"max_cer in use: {judge.max_cer}")
    if args.verbose:
        for figures in results:
            for sentence, transcript in figures.misheard:
                print(f"{figures.voice}: {sentence!r} heard as {transcript!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
