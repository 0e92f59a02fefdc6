"""The suite's command-line options, each falling back to the seed's environment variable."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

__all__ = ["AsrJudgeChoice", "Level", "SuiteOptions", "add_options"]

GROUP = "voicebox-conformance"


class Level(StrEnum):
    """Which clauses run: MUST only, MUST and SHOULD, or everything including MAY."""

    MUST = "must"
    SHOULD = "should"
    ALL = "all"


class AsrJudgeChoice(StrEnum):
    AUTO = "auto"
    LOCAL = "local"
    PROVIDER = "provider"
    OPENAI = "openai"
    NONE = "none"


class SpeakerJudgeChoice(StrEnum):
    AUTO = "auto"
    RESEMBLYZER = "resemblyzer"
    NONE = "none"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "Voicebox provider conformance (SPEC.md v0.2)")
    add = group.addoption
    add("--provider-url", help="Base URL of the TTS provider to check [env TTS_REMOTE_URL].")
    add("--provider-api-key", help="API key sent as X-API-Key; enables AUTH-* [env TTS_API_KEY].")
    add("--whisper-url", help="Base URL of a /v1/transcribe provider [env WHISPER_REMOTE_URL].")
    add(
        "--whisper-mode",
        choices=["local", "remote", "openai-api"],
        help="Which transcription API to check: remote = /v1/transcribe, openai-api = "
        "/v1/audio/transcriptions, local = none [env WHISPER_MODE].",
    )
    add("--openai-api-key", help="Bearer key for the OpenAI endpoint [env OPENAI_API_KEY].")
    add(
        "--openai-base-url",
        help="Base URL of the OpenAI-compatible API, e.g. http://host:8000/v1 "
        "[env OPENAI_BASE_URL].",
    )
    add(
        "--conformance-level",
        choices=[level.value for level in Level],
        default=Level.ALL.value,
        help="Run MUST clauses only, MUST and SHOULD, or all (default).",
    )
    add(
        "--strict-conformance",
        action="store_true",
        help="Fail the run on NON-STRICT (a missed SHOULD) as well as on FAIL.",
    )
    add(
        "--case",
        action="append",
        default=[],
        metavar="ID",
        help="Run only these case IDs (globs such as 'AUD-*'; comma-separated or repeated).",
    )
    add("--skip-case", action="append", default=[], metavar="ID", help="Leave these case IDs out.")
    add("--known-failures", metavar="TOML", help="Baseline of known failures with expiry dates.")
    add(
        "--reference-audio",
        action="append",
        default=[],
        metavar="FILE",
        help="Your own reference recordings A and B (give twice) instead of the bundled ones.",
    )
    add(
        "--reference-text",
        action="append",
        default=[],
        metavar="TEXT",
        help="Transcripts of --reference-audio, in the same order.",
    )
    add(
        "--asr-judge",
        choices=[c.value for c in AsrJudgeChoice],
        default="auto",
        help="Intelligibility judge: local faster-whisper, the provider's /v1/transcribe, the "
        "OpenAI API, none, or auto (local when installed).",
    )
    add(
        "--speaker-judge",
        choices=[c.value for c in SpeakerJudgeChoice],
        default="auto",
        help="Speaker-similarity judge: resemblyzer, none, or auto (resemblyzer when installed).",
    )
    add(
        "--conformance-report",
        metavar="DIR",
        help="Write conformance.json and conformance.md into DIR.",
    )
    add(
        "--conformance-concurrency",
        type=int,
        default=4,
        metavar="N",
        help="Parallel requests for the concurrency cases (default 4).",
    )
    add(
        "--conformance-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="Read timeout per request in seconds (default 300).",
    )
    add(
        "--conformance-wait",
        type=float,
        default=120.0,
        metavar="S",
        help="Wait up to S seconds for /health to report ready before checking (default 120).",
    )
    add(
        "--conformance-robustness",
        action="store_true",
        help="Also run the robustness level (ROB-*, SPEC.md section 14): it sends hostile "
        "traffic (a decompression bomb, trickled uploads, a burst, planted keys); off by default.",
    )
    add(
        "--no-replay",
        action="store_true",
        help="Do not replay failed cases to tell FLAKY from FAIL.",
    )


def _option(config: pytest.Config, name: str, env: str | None = None) -> Any:
    value = config.getoption(name)
    if value in (None, "", []) and env:
        value = os.environ.get(env) or None
    return value


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(p.strip() for v in values for p in v.split(",") if p.strip())


@dataclass(frozen=True)
class SuiteOptions:
    provider_url: str
    api_key: str | None = field(default=None, repr=False)
    whisper_url: str | None = None
    whisper_mode: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    level: Level = Level.ALL
    strict: bool = False
    cases: tuple[str, ...] = ()
    skip_cases: tuple[str, ...] = ()
    known_failures: Path | None = None
    reference_audio: tuple[Path, ...] = ()
    reference_text: tuple[str, ...] = ()
    asr_judge: AsrJudgeChoice = AsrJudgeChoice.AUTO
    speaker_judge: SpeakerJudgeChoice = SpeakerJudgeChoice.AUTO
    report_dir: Path | None = None
    concurrency: int = 4
    timeout_s: float = 300.0
    replay: bool = True
    wait_s: float = 120.0
    robustness: bool = False
    """Run the opt-in robustness level (ROB-*), which sends hostile traffic."""

    @classmethod
    def from_config(cls, config: pytest.Config) -> SuiteOptions | None:
        """The options of this run, or None when no provider URL is given at all."""
        url = _option(config, "provider_url", "TTS_REMOTE_URL")
        if not url:
            return None
        baseline = _option(config, "known_failures")
        report = _option(config, "conformance_report")
        return cls(
            provider_url=str(url).rstrip("/"),
            api_key=_option(config, "provider_api_key", "TTS_API_KEY"),
            whisper_url=_strip(_option(config, "whisper_url", "WHISPER_REMOTE_URL")),
            whisper_mode=_option(config, "whisper_mode", "WHISPER_MODE"),
            openai_api_key=_option(config, "openai_api_key", "OPENAI_API_KEY"),
            openai_base_url=_strip(_option(config, "openai_base_url", "OPENAI_BASE_URL")),
            level=Level(config.getoption("conformance_level")),
            strict=bool(config.getoption("strict_conformance")),
            cases=_split(config.getoption("case")),
            skip_cases=_split(config.getoption("skip_case")),
            known_failures=Path(baseline) if baseline else None,
            reference_audio=tuple(Path(p) for p in config.getoption("reference_audio")),
            reference_text=tuple(config.getoption("reference_text")),
            asr_judge=AsrJudgeChoice(config.getoption("asr_judge")),
            speaker_judge=SpeakerJudgeChoice(config.getoption("speaker_judge")),
            report_dir=Path(report) if report else None,
            concurrency=max(2, int(config.getoption("conformance_concurrency"))),
            timeout_s=float(config.getoption("conformance_timeout")),
            replay=not config.getoption("no_replay"),
            wait_s=max(0.0, float(config.getoption("conformance_wait"))),
            robustness=bool(config.getoption("conformance_robustness")),
        )

    def selects(self, clause_id: str, level: str) -> bool:
        """Whether a case runs under --case, --skip-case and --conformance-level."""
        if self.level is Level.MUST and level != "MUST":
            return False
        if self.level is Level.SHOULD and level == "MAY":
            return False
        if self.cases and not any(fnmatch.fnmatchcase(clause_id, p) for p in self.cases):
            return False
        return not any(fnmatch.fnmatchcase(clause_id, p) for p in self.skip_cases)

    def redacted(self) -> dict[str, Any]:
        """The options for a report: keys shown only as present or absent."""
        return {
            "provider_url": self.provider_url,
            "api_key": "***" if self.api_key else None,
            "whisper_url": self.whisper_url,
            "whisper_mode": self.whisper_mode,
            "openai_api_key": "***" if self.openai_api_key else None,
            "openai_base_url": self.openai_base_url,
            "level": self.level.value,
            "strict": self.strict,
            "cases": list(self.cases),
            "skip_cases": list(self.skip_cases),
            "known_failures": str(self.known_failures) if self.known_failures else None,
            "reference_audio": [p.name for p in self.reference_audio],
            "asr_judge": self.asr_judge.value,
            "speaker_judge": self.speaker_judge.value,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "replay": self.replay,
            "wait_s": self.wait_s,
            "robustness": self.robustness,
        }


def _strip(url: str | None) -> str | None:
    return url.rstrip("/") if url else None
