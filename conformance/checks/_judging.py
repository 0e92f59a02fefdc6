"""Judged properties of generated speech, shared by the checks that need them.

Each is computed once per session (``Session.memo``) and raises ``Blocked`` when a prerequisite
clause fails, so a defect is reported once, by the clause that owns it: a transcript is only
judged for audio whose declared sample rate is right (AUD-6) and that is not silent (AUD-7).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from conformance.engine.outcome import Blocked, Evidence, Failed, NotApplicable
from conformance.engine.plan import CORE_KEYS, spec
from conformance.judges.analysis import (
    SILENCE_FLOOR_DBFS,
    PitchTracking,
    edge_silence,
    loudest_window_dbfs,
)
from conformance.judges.rate import RateAssessment, assess_rate, measure_tracking

if TYPE_CHECKING:
    import httpx

    from conformance.engine.session import Session
    from conformance.judges.asr import AsrJudge

__all__ = [
    "RateAssessment",
    "cer",
    "expect_own_text_nearest",
    "rate_assessment",
    "speaker_embedding",
    "transcript",
]


_transcripts: dict[tuple[str, str, int], str] = {}
_transcripts_lock = threading.Lock()


def cer(reference: str, hypothesis: str) -> float:
    from conformance.judges.asr import cer as judge_cer

    return float(judge_cer(reference, hypothesis))


def expect_own_text_nearest(
    transcripts: Mapping[str, tuple[str, str, httpx.Response | None]],
) -> Evidence:
    """INT-1's test, for any set of clips ``name: (own text, transcript, answer)``: each
    transcript is closer by CER to its own text than to any other clip's. A transcriber that
    ignores its audio (the same words for every clip) cannot pass it."""
    texts = {own for own, _, _ in transcripts.values()}
    scores = {}
    for name, (own, heard, response) in transcripts.items():
        own_cer = cer(own, heard)
        nearest_other = min(cer(other, heard) for other in texts - {own})
        scores[name] = {
            "heard": heard,
            "cer_own": round(own_cer, 3),
            "cer_nearest_other": round(nearest_other, 3),
        }
        if own_cer >= nearest_other:
            raise Failed(
                f"a transcript closer to {own!r} than to the other clips' texts",
                f"{name}: heard {heard!r} (CER {own_cer:.2f} to its own text, "
                f"{nearest_other:.2f} to another)",
                response,
            )
    return Evidence({"clips": scores})


def _digest(samples: npt.NDArray[np.float32]) -> str:
    return hashlib.sha256(np.ascontiguousarray(samples).tobytes()).hexdigest()


def _trim_edges(samples: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float32]:
    """The audio without its leading and trailing silence (AUD-11's measure): Whisper invents
    words in long silence, which would blame intelligibility for what AUD-10/11 report."""
    leading, trailing = edge_silence(samples, sample_rate)
    start = int(leading * sample_rate)
    end = len(samples) - int(trailing * sample_rate)
    return samples[start:end] if end - start >= sample_rate // 10 else samples


def judge_transcribe(judge: AsrJudge, samples: npt.NDArray[np.float32], sample_rate: int) -> str:
    """Transcribe the sounding part, remembering results across sessions: identical audio is
    judged once."""
    samples = _trim_edges(samples, sample_rate)
    key = (f"{judge.name} {judge.version}", _digest(samples), sample_rate)
    with _transcripts_lock:
        if key in _transcripts:
            return _transcripts[key]
    from conformance.judges.asr import AsrJudgeError

    try:
        text = str(judge.transcribe(samples, sample_rate))
    except AsrJudgeError as exc:
        raise NotApplicable(f"the ASR judge failed: {exc}", "choose another --asr-judge") from None
    with _transcripts_lock:
        _transcripts[key] = text
    return text


def rate_assessment(s: Session, key: str) -> RateAssessment:
    """Whether ``key``'s declared sample rate is the rate its speech was made at (AUD-6)."""
    result: RateAssessment = s.memo(f"rate:{key}", lambda: _assess_rate(s, key))
    return result


def _assess_rate(s: Session, key: str) -> RateAssessment:
    require_sound(s, key)
    audio = s.audio(key)
    judge = s.asr_judge_or_none()
    return assess_rate(
        audio.as_float32(),
        audio.sample_rate,
        s.generation(key).spec.text,
        pitch_tracking_of(s),
        None if judge is None else functools.partial(judge_transcribe, judge),
    )


def pitch_tracking_of(s: Session) -> PitchTracking | None:
    """The core generations' pitch against their references', once per session."""
    result: PitchTracking | None = s.memo("pitch-tracking", lambda: _measure_tracking(s))
    return result


def _measure_tracking(s: Session) -> PitchTracking | None:
    outputs = []
    for key in CORE_KEYS:
        try:
            audio = s.audio(key)
        except Blocked:
            continue
        if not is_silent(s, key):
            outputs.append((spec(key).reference, audio.as_float32(), audio.sample_rate))
    references = {which: s.reference(which) for which, _, _ in outputs}
    return measure_tracking(
        outputs, {w: (c.samples.astype(np.float32), c.sample_rate) for w, c in references.items()}
    )


def require_right_rate(s: Session, key: str) -> None:
    assessment = rate_assessment(s, key)
    if not assessment.consistent:
        raise Blocked("AUD-6", f"the declared sample rate of {key!r} is not its true rate")


def is_silent(s: Session, key: str) -> bool:
    audio = s.audio(key)
    return loudest_window_dbfs(audio.as_float32(), audio.sample_rate) < SILENCE_FLOOR_DBFS


def require_sound(s: Session, key: str) -> None:
    if is_silent(s, key):
        raise Blocked("AUD-7", f"the audio of {key!r} is silent")


def transcript(s: Session, key: str) -> str:
    """The ASR judge's transcript of a generation played at its declared rate."""
    judge = s.asr_judge()
    require_right_rate(s, key)
    require_sound(s, key)
    audio = s.audio(key)
    return judge_transcribe(judge, audio.as_float32(), audio.sample_rate)


def speaker_embedding(s: Session, key: str) -> npt.NDArray[np.float32]:
    judge = s.speaker_judge()
    require_sound(s, key)
    audio = s.audio(key)
    result: npt.NDArray[np.float32] = s.memo(
        f"embedding:{key}", lambda: judge.embed(audio.as_float32(), audio.sample_rate)
    )
    return result


def reference_embedding(s: Session, which: str) -> npt.NDArray[np.float32]:
    judge = s.speaker_judge()
    clip = s.reference(which)
    result: npt.NDArray[np.float32] = s.memo(
        f"reference-embedding:{which}", lambda: judge.embed(clip.samples, clip.sample_rate)
    )
    return result
