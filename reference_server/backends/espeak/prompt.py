"""The espeak backend's voice prompt: a small, versioned JSON object of reference features.

    {"engine": "espeak", "version": 1,
     "features": {"f0_median_hz": 118.2, "f0_spread_semitones": 2.1, "modulation_rate_hz": 3.9,
                  "spectrum_db": [24 numbers], "voiced_seconds": 3.6}}

The prompt keeps what was measured, not the espeak settings derived from it, so that a better
mapping in a later release still reads old prompts. Parsing is strict: anything this backend
would not have produced is refused with a ``VoicePromptError`` whose message names the
offending member and never echoes the input.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reference_server.backends.base import VoicePromptError
from reference_server.backends.espeak.features import (
    F0_MAX_HZ,
    F0_MIN_HZ,
    MAX_ANALYSIS_SECONDS,
    MIN_VOICED_SECONDS,
    SPECTRUM_BAND_EDGES_HZ,
    VoiceFeatures,
)

__all__ = ["ENGINE", "PROMPT_VERSION", "EspeakVoicePrompt", "dump_prompt", "parse_prompt"]

ENGINE: Final = "espeak"
PROMPT_VERSION: Final = 1
_BANDS: Final = len(SPECTRUM_BAND_EDGES_HZ) - 1
_DECIMALS: Final = 3
_MAX_ERRORS_SHOWN: Final = 3

_KNOWN_KEYS: Final = frozenset(
    {
        "engine",
        "version",
        "features",
        "f0_median_hz",
        "f0_spread_semitones",
        "modulation_rate_hz",
        "spectrum_db",
        "voiced_seconds",
    }
)

_Level = Annotated[float, Field(ge=-120.0, le=120.0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class PromptFeatures(_Model):
    f0_median_hz: float = Field(ge=F0_MIN_HZ, le=F0_MAX_HZ, allow_inf_nan=False)
    f0_spread_semitones: float = Field(ge=0.0, le=24.0, allow_inf_nan=False)
    modulation_rate_hz: float = Field(ge=0.0, le=10.0, allow_inf_nan=False)
    spectrum_db: list[_Level] = Field(min_length=_BANDS, max_length=_BANDS)
    voiced_seconds: float = Field(
        ge=MIN_VOICED_SECONDS, le=MAX_ANALYSIS_SECONDS, allow_inf_nan=False
    )


class EspeakVoicePrompt(_Model):
    engine: Literal["espeak"]
    version: Literal[1]
    features: PromptFeatures


def dump_prompt(features: VoiceFeatures) -> dict[str, Any]:
    """The JSON object of a voice prompt holding ``features``."""
    prompt = EspeakVoicePrompt(
        engine=ENGINE,
        version=PROMPT_VERSION,
        features=PromptFeatures(
            f0_median_hz=round(features.f0_median_hz, _DECIMALS),
            f0_spread_semitones=round(features.f0_spread_semitones, _DECIMALS),
            modulation_rate_hz=round(features.modulation_rate_hz, _DECIMALS),
            spectrum_db=[round(level, _DECIMALS) for level in features.spectrum_db],
            voiced_seconds=round(features.voiced_seconds, _DECIMALS),
        ),
    )
    return prompt.model_dump(mode="json")


def parse_prompt(prompt: Any) -> VoiceFeatures:
    """Validate a voice prompt; raise VoicePromptError for anything this backend did not make."""
    if not isinstance(prompt, dict) or prompt.get("engine") != ENGINE:
        raise VoicePromptError("this voice prompt was not made by the espeak backend")
    if prompt.get("version") != PROMPT_VERSION or isinstance(prompt.get("version"), bool):
        raise VoicePromptError(
            f"this espeak voice prompt has an unknown version; this server reads version "
            f"{PROMPT_VERSION}"
        )
    try:
        parsed = EspeakVoicePrompt.model_validate(prompt)
    except ValidationError as exc:
        raise VoicePromptError(f"invalid espeak voice prompt: {_describe(exc)}") from None
    features = parsed.features
    return VoiceFeatures(
        f0_median_hz=features.f0_median_hz,
        f0_spread_semitones=features.f0_spread_semitones,
        modulation_rate_hz=features.modulation_rate_hz,
        spectrum_db=tuple(features.spectrum_db),
        voiced_seconds=features.voiced_seconds,
    )


def _describe(error: ValidationError) -> str:
    """Where and what, without the input values or unknown keys, which pydantic would echo."""
    problems = [
        f"{'.'.join(_location_part(part) for part in item['loc']) or 'prompt'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)
    ]
    shown = "; ".join(problems[:_MAX_ERRORS_SHOWN])
    hidden = len(problems) - _MAX_ERRORS_SHOWN
    return shown + (f" (and {hidden} more)" if hidden > 0 else "")


def _location_part(part: str | int) -> str:
    if isinstance(part, int) or part in _KNOWN_KEYS:
        return str(part)
    return "<unknown member>"
