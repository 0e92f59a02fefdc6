"""SPEC.md §9: speech judged by an ASR model (INT) and a speaker-embedding model (SPK)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from conformance.checks import _judging as judging
from conformance.engine.outcome import Blocked, Evidence, Failed, Info
from conformance.engine.plan import CORE_KEYS, spec
from conformance.engine.registry import check

if TYPE_CHECKING:
    from conformance.engine.session import Session

STEERING_MARGIN = 0.05
_PLAIN_KEYS = tuple(k for k in CORE_KEYS if k != "unicode-A")


def _judged(s: Session, keys: tuple[str, ...]) -> dict[str, str]:
    """Transcripts of the generations that succeeded; blocked when none did."""
    found = {}
    for key in keys:
        if s.generation(key).response.status_code == 200:
            found[key] = judging.transcript(s, key)
    if not found:
        raise Blocked("GEN-1", "no /v1/generate request succeeded")
    return found


@check("INT-1")
def transcript_is_closest_to_its_own_text(s: Session) -> Evidence:
    transcripts = _judged(s, CORE_KEYS)
    texts = {spec(k).text for k in CORE_KEYS}
    scores = {}
    for key, heard in transcripts.items():
        own = spec(key).text
        own_cer = judging.cer(own, heard)
        nearest_other = min(judging.cer(other, heard) for other in texts - {own})
        scores[key] = {
            "heard": heard,
            "cer_own": round(own_cer, 3),
            "cer_nearest_other": round(nearest_other, 3),
        }
        if own_cer >= nearest_other:
            raise Failed(
                f"a transcript closer to {own!r} than to the other texts",
                f"{key}: heard {heard!r} (CER {own_cer:.2f} to its own text, "
                f"{nearest_other:.2f} to another)",
                s.generation(key).response,
            )
    return Evidence({"judge": s.asr_judge().name, "clips": scores})


@check("INT-2")
def character_error_rate_is_within_bound(s: Session) -> Evidence:
    judge = s.asr_judge()
    transcripts = _judged(s, _PLAIN_KEYS)
    rates = {}
    for key, heard in transcripts.items():
        rate = judging.cer(spec(key).text, heard)
        rates[key] = round(rate, 3)
        if rate > judge.max_cer:
            raise Failed(
                f"CER at most {judge.max_cer:.2f} under {judge.name}",
                f"{key}: CER {rate:.2f}, heard {heard!r}",
                s.generation(key).response,
            )
    return Evidence({"judge": judge.name, "max_cer": judge.max_cer, "cer": rates})


def _cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _similarities(s: Session) -> dict[str, float]:
    outputs = {which: judging.speaker_embedding(s, f"walk-{which}") for which in "AB"}
    references = {which: judging.reference_embedding(s, which) for which in "AB"}
    return {f"out_{o}~ref_{r}": _cosine(outputs[o], references[r]) for o in "AB" for r in "AB"}


@check("SPK-1")
def voice_prompt_steers_the_voice(s: Session) -> Evidence:
    sim = _similarities(s)
    margin = (sim["out_A~ref_A"] - sim["out_A~ref_B"]) - (sim["out_B~ref_A"] - sim["out_B~ref_B"])
    facts = {k: round(v, 3) for k, v in sim.items()} | {"margin": round(margin, 3)}
    if margin < STEERING_MARGIN:
        raise Failed(
            f"steering margin at least {STEERING_MARGIN}",
            f"margin {margin:.3f} (a provider that ignores the prompt scores about 0)",
            s.generation("walk-B").response,
            **facts,
        )
    return Evidence(facts)


@check("SPK-2")
def output_resembles_the_reference(s: Session) -> Evidence:
    sim = _similarities(s)
    raise Info(
        f"SIM(out_A, A) = {sim['out_A~ref_A']:.3f}, SIM(out_B, B) = "
        f"{sim['out_B~ref_B']:.3f} (same-speaker pairs score 0.84-0.91 under resemblyzer)",
        sim_a=round(sim["out_A~ref_A"], 3),
        sim_b=round(sim["out_B~ref_B"], 3),
    )
