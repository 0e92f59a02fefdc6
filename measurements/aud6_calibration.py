"""Calibrate AUD-6: which sample-rate lies the check catches, and that it never blames the truth.

Each engine speaks the suite's core generations (``walk-A``, ``walk-B``, ``call-A``, ...) as a
provider would, from the bundled voice references A and B. Each run of clips is then made at
every standard rate R_t (soxr's band-limited resampling from the engine's own rate) and declared at
every standard rate R_d, and judged by ``conformance.judges.rate.assess_rate``, the check's own
code, as one session: a lie is caught when any clip is judged inconsistent, and R_t == R_d must
never be.

Engines:

- ``espeak-steered``: the reference server's espeak backend, steered towards each reference
  (the suite's seeds), and again with other seeds (its ±2 % speed jitter);
- ``synthetic``: the reference server's tone backend, steered by the references' pitch;
- ``recordings``: the bundled reference recordings themselves, as a perfect cloner;
- ``espeak-low``, ``espeak-high``, ``espeak-child``: fixed espeak voices that ignore the
  references (low male, high female, child-like pitch), and ``espeak-de``, ``espeak-fr``:
  a German and a French voice reading the English texts (a declared non-English voice).

    python -m measurements.aud6_calibration [--judge] [--engines NAME ...] [--json PATH]

Without ``--judge`` it judges as without an ASR judge (pitch, then speech-rate cues) over
every pair of rates; with it, it adds the bundled Whisper tiny.en judge over pairs whose true
rate is 16000, 22050 or 24000 (the judge's cost). Timings are not reported; the figures do not
depend on the machine.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from conformance.engine.plan import CORE_KEYS, spec
from conformance.engine.references import voice_references
from conformance.judges.analysis import STANDARD_SAMPLE_RATES
from conformance.judges.rate import assess_rate, measure_tracking
from reference_server.backends import espeak
from reference_server.backends.base import GenerateJob
from reference_server.backends.espeak.backend import EspeakBackend
from reference_server.backends.synthetic import SyntheticBackend

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Clip:
    key: str
    reference: str
    text: str
    samples: Samples
    rate: int


Engine = Callable[[], list[Clip]]
JUDGED_TRUE_RATES: Final = (16000, 22050, 24000)


def references_of_the_suite() -> dict[str, tuple[Samples, int]]:
    refs = voice_references((), ())
    return {w: (refs[w].samples.astype(np.float32), refs[w].sample_rate) for w in ("A", "B")}


def _backend_clips(backend: EspeakBackend | SyntheticBackend, seed_offset: int = 0) -> list[Clip]:
    refs = voice_references((), ())
    voices = {
        w: backend.parse_voice_prompt(
            backend.create_voice_prompt(refs[w].samples.astype(np.float32), refs[w].sample_rate, "")
        )
        for w in ("A", "B")
    }
    clips = []
    for key in CORE_KEYS:
        planned = spec(key)
        seed = (planned.seed or 0) + seed_offset
        job = GenerateJob(planned.text, voices[planned.reference], "en", seed)
        made = backend.generate([job])[0]
        clips.append(Clip(key, planned.reference, planned.text, made.samples, made.sample_rate))
    return clips


def _espeak_fixed(voice: str, pitch: int, pitch_range: int = 50) -> list[Clip]:
    clips = []
    for key in CORE_KEYS:
        planned = spec(key)
        request = espeak.SynthesisRequest(
            text=planned.text, voice=voice, rate=165, pitch=pitch, range=pitch_range, seed=0
        )
        samples = espeak.synthesize(request).astype(np.float32) / 32768.0
        clips.append(
            Clip(key, planned.reference, planned.text, samples, espeak.engine_info().sample_rate)
        )
    return clips


def _recordings() -> list[Clip]:
    refs = voice_references((), ())
    return [
        Clip(
            key,
            spec(key).reference,
            refs[spec(key).reference].text,
            refs[spec(key).reference].samples.astype(np.float32),
            refs[spec(key).reference].sample_rate,
        )
        for key in CORE_KEYS
    ]


ENGINES: Final[dict[str, Engine]] = {
    "espeak-steered": lambda: _backend_clips(EspeakBackend()),
    "espeak-steered-seeds": lambda: _backend_clips(EspeakBackend(), seed_offset=1000),
    "synthetic": lambda: _backend_clips(SyntheticBackend()),
    "recordings": _recordings,
    "espeak-low": lambda: _espeak_fixed("en-us+m8", 20),
    "espeak-high": lambda: _espeak_fixed("en-us+f3", 90),
    "espeak-child": lambda: _espeak_fixed("en-us+f4", 99, 80),
    "espeak-de": lambda: _espeak_fixed("de+m3", 50),
    "espeak-fr": lambda: _espeak_fixed("fr+f2", 60),
}


def _at_rate(samples: Samples, rate: int, target: int) -> Samples:
    if rate == target:
        return samples
    resampled = soxr.resample(samples.astype(np.float64), rate, target, quality="HQ")
    return np.asarray(np.clip(resampled, -1.0, 1.0), dtype=np.float32)


@functools.cache
def _judge_transcribe() -> Callable[[Samples, int], str]:
    from conformance.judges.asr import LocalWhisperJudge

    judge = LocalWhisperJudge()
    return lambda samples, rate: str(judge.transcribe(samples, rate))


def caught(
    clips: Sequence[Clip],
    references: dict[str, tuple[Samples, int]],
    true_rate: int,
    declared: int,
    *,
    judge: bool,
) -> tuple[bool, str]:
    """Whether the check judges this run of clips, made at ``true_rate`` and declared at
    ``declared``, inconsistent; and by which method."""
    made = [(c, _at_rate(c.samples, c.rate, true_rate)) for c in clips]
    tracking = measure_tracking([(c.reference, x, declared) for c, x in made], references)
    transcribe = _judge_transcribe() if judge else None
    for clip, samples in made:
        assessment = assess_rate(samples, declared, clip.text, tracking, transcribe)
        if not assessment.consistent:
            return True, assessment.method
    return False, ""


def calibrate(names: Sequence[str], *, judge: bool) -> dict[str, object]:
    references = references_of_the_suite()
    rows = []
    for name in names:
        clips = ENGINES[name]()
        true_rates = JUDGED_TRUE_RATES if judge else STANDARD_SAMPLE_RATES
        for true_rate in true_rates:
            for declared in STANDARD_SAMPLE_RATES:
                hit, method = caught(clips, references, true_rate, declared, judge=judge)
                rows.append(
                    {
                        "engine": name,
                        "true_rate": true_rate,
                        "declared": declared,
                        "ratio": round(max(true_rate, declared) / min(true_rate, declared), 3),
                        "caught": hit,
                        "method": method,
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return {"judge": judge, "rows": rows}


def summarise(result: dict[str, object]) -> str:
    rows = result["rows"]
    assert isinstance(rows, list)
    false_fails = [r for r in rows if r["true_rate"] == r["declared"] and r["caught"]]
    lines = [
        f"AUD-6 calibration ({'with' if result['judge'] else 'without'} the ASR judge)",
        "",
        "| engine | false FAILs | smallest ratio always caught | missed lies (true→declared) |",
        "|---|---|---|---|",
    ]
    for engine in dict.fromkeys(r["engine"] for r in rows):
        mine = [r for r in rows if r["engine"] == engine]
        lies = [r for r in mine if r["true_rate"] != r["declared"]]
        missed = [r for r in lies if not r["caught"]]
        worst_missed = max((r["ratio"] for r in missed), default=1.0)
        always = min((r["ratio"] for r in lies if r["ratio"] > worst_missed), default=None)
        shown = ", ".join(f"{r['true_rate']}→{r['declared']}" for r in missed[:6])
        more = f" (+{len(missed) - 6})" if len(missed) > 6 else ""
        lines.append(
            f"| {engine} | {sum(r in false_fails for r in mine)} | "
            f"{always if always is not None else '-'} | {shown or 'none'}{more} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--judge", action="store_true", help="judge with Whisper tiny.en")
    parser.add_argument("--engines", nargs="*", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args(argv)
    result = calibrate(args.engines, judge=args.judge)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(summarise(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
