"""The JSON record of one conformance run: per case the verdict and its evidence, plus provenance.

``pytest --provider-url=URL --conformance-report DIR`` writes it as ``DIR/conformance.json``;
``python -m reports`` renders it. The format is versioned by ``schema_version``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CaseResult",
    "ConformanceRecord",
    "JudgeInfo",
    "Provenance",
    "RequestTally",
    "Verdict",
]

RECORD_SCHEMA_VERSION: Literal["1"] = "1"


class Verdict(StrEnum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    NON_STRICT = "NON-STRICT"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    INFO = "INFO"
    FLAKY = "FLAKY"
    SKIPPED = "SKIPPED"

    @property
    def is_problem(self) -> bool:
        return self in (Verdict.FAIL, Verdict.NON_STRICT, Verdict.FLAKY)


# Failures first when a report lists cases.
VERDICT_ORDER: tuple[Verdict, ...] = (
    Verdict.FAIL,
    Verdict.NON_STRICT,
    Verdict.FLAKY,
    Verdict.UNIMPLEMENTED,
    Verdict.SKIPPED,
    Verdict.INFO,
    Verdict.PASS,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseResult(_Model):
    id: str = Field(examples=["GEN-8"])
    level: Literal["MUST", "SHOULD", "MAY"]
    section: str
    requirement: str
    verdict: Verdict
    duration_s: float
    reason: str | None = Field(default=None, description="Why it failed, was skipped or is INFO.")
    expected: str | None = None
    actual: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    curl: str | None = Field(default=None, description="Reproduces the request; key redacted.")
    enable_hint: str | None = Field(default=None, description="How to run a SKIPPED case.")
    known_failure: str | None = Field(
        default=None, description="The baseline entry's reason when a FAIL is a known failure."
    )
    requests: int = Field(default=0, description="Requests this case sent itself.")


class JudgeInfo(_Model):
    role: Literal["asr", "speaker"]
    name: str
    version: str
    detail: str = ""


class RequestTally(_Model):
    total: int = 0
    by_endpoint: dict[str, int] = Field(default_factory=dict)
    generate_calls: int | None = Field(
        default=0, description="Requests to /v1/generate, refused too (None: not counted here)."
    )
    generations: int | None = Field(
        default=0, description="Requests to /v1/generate answered 200: they cost inference."
    )


class Provenance(_Model):
    kit_version: str
    spec_version: str
    provider_url: str
    whisper_url: str | None = None
    provider_health: dict[str, Any] | None = None
    provider_health_error: str | None = None
    """Why /health could not be read at the end of the run (an OpenAI-only run against an
    unreachable TTS provider); the verdicts stand without it."""
    started_at: datetime
    finished_at: datetime
    duration_s: float
    judges: list[JudgeInfo] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    python: str
    platform: str
    pytest: str


class ConformanceRecord(_Model):
    schema_version: Literal["1"] = RECORD_SCHEMA_VERSION
    kind: Literal["conformance"] = "conformance"
    provenance: Provenance
    cases: list[CaseResult]
    requests: RequestTally
    summary: dict[Verdict, int] = Field(default_factory=dict)
    passed: bool = Field(description="No FAIL (and no NON-STRICT when the run was strict).")
