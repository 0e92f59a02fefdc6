"""The suite's command-line options; the seed's environment variables supply what is not given.

The plugin runs only on an explicit request: ``--provider-url URL``, or ``--conformance`` to
check the provider that ``TTS_REMOTE_URL`` names. The environment never switches it on; it only
supplies values, and it is read through :meth:`voicebox_api.Settings.from_env`, once, with the
command line's values as the explicit arguments that win. So a URL or a key given either way
is normalised by the same rules as the kit's client applies.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:  # imported when the suite runs: a dormant plugin costs other runs nothing
    from voicebox_api import Settings, WhisperMode

__all__ = [
    "AsrJudgeChoice",
    "LevelSelection",
    "SpeakerJudgeChoice",
    "SuiteOptions",
    "add_options",
    "requested",
]

GROUP = "voicebox-conformance"

_SETTINGS_OPTIONS: Final[Mapping[str, str]] = {
    "tts_remote_url": "provider_url",
    "tts_api_key": "provider_api_key",
    "whisper_remote_url": "whisper_url",
    "whisper_mode": "whisper_mode",
    "openai_api_key": "openai_api_key",
    "openai_base_url": "openai_base_url",
}
"""Each settings field that an option sets (the option wins over the field's variable)."""


class LevelSelection(StrEnum):
    """Which clauses run (``--conformance-level``): MUST only, MUST and SHOULD, or everything
    including MAY. A clause's own level is :class:`conformance.engine.spec.Level`."""

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
    add(
        "--provider-url",
        help="Base URL of the TTS provider to check; runs the suite (without it, or "
        "--conformance, the plugin stays dormant).",
    )
    add(
        "--conformance",
        action="store_true",
        help="Run the suite against the provider that TTS_REMOTE_URL names.",
    )
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
        "--speech-url",
        help="Base URL of an OpenAI-compatible speech server, e.g. http://host:8091/v1, to check "
        "POST /audio/speech there (SPEECH-*); alone, it checks only that [env SPEECH_BASE_URL].",
    )
    add("--speech-api-key", help="Bearer key for --speech-url [env SPEECH_API_KEY].")
    add("--speech-model", default="tts-1", help="The model sent to the speech endpoint.")
    add("--speech-voice", default="alloy", help="A voice the speech server names (alloy).")
    add(
        "--conformance-level",
        choices=[level.value for level in LevelSelection],
        default=LevelSelection.ALL.value,
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
        help="Wait up to S seconds for the provider to start (/health answering other than "
        "503) before checking; one that never does is a usage error, exit code 4 (default 120).",
    )
    add(
        "--conformance-robustness",
        action="store_true",
        help="Also run the robustness level (ROB-*, SPEC.md section 16): it sends hostile "
        "traffic (a decompression bomb, trickled uploads, a burst, planted keys); off by default.",
    )
    add(
        "--no-replay",
        action="store_true",
        help="Do not replay failed cases to tell FLAKY from FAIL.",
    )


def requested(config: pytest.Config) -> bool:
    """Whether this run asked for the suite: ``--provider-url``, ``--speech-url`` or
    ``--conformance``."""
    return any(config.getoption(name) for name in ("provider_url", "speech_url", "conformance"))


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name)
    return None if value in (None, "", []) else value


def _environment(
    config: pytest.Config, environ: Mapping[str, str] | None, *, need_provider: bool = True
) -> Settings:
    """The seed's variables under the options that set the same values: one read."""
    from voicebox_api import ENV_VARIABLES, Settings, SettingsError

    given = {f: v for f, o in _SETTINGS_OPTIONS.items() if (v := _option(config, o)) is not None}
    try:
        settings = Settings.from_env(environ, **given)
    except SettingsError as exc:
        where = _given_as(exc.variable, given, ENV_VARIABLES) or exc.variable
        raise pytest.UsageError(f"voicebox-conformance: {where}: {exc.problem}") from None
    if settings.tts_remote_url is None and need_provider:
        raise pytest.UsageError(
            "voicebox-conformance: --conformance needs a provider: "
            "give --provider-url URL or set TTS_REMOTE_URL"
        )
    return settings


def _given_as(
    variable: str, given: Mapping[str, object], variables: Mapping[str, str]
) -> str | None:
    """The option that set the bad value, when an option rather than ``variable`` did."""
    for field_name, name in variables.items():
        if name == variable and field_name in given:
            return "--" + _SETTINGS_OPTIONS[field_name].replace("_", "-")
    return None


def _secret(settings: Settings, field_name: str) -> str | None:
    value = getattr(settings, field_name)
    return None if value is None else str(value.get_secret_value())


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(p.strip() for v in values for p in v.split(",") if p.strip())


@dataclass(frozen=True)
class SuiteOptions:
    provider_url: str
    api_key: str | None = field(default=None, repr=False)
    whisper_url: str | None = None
    whisper_mode: WhisperMode | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    level: LevelSelection = LevelSelection.ALL
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
    speech_url: str | None = None
    speech_api_key: str | None = field(default=None, repr=False)
    speech_model: str = "tts-1"
    speech_voice: str = "alloy"
    speech_only: bool = False
    """Only --speech-url was given: the run checks the SPEECH-* clauses alone."""
    robustness: bool = False
    """Run the opt-in robustness level (ROB-*), which sends hostile traffic."""

    @classmethod
    def from_config(
        cls, config: pytest.Config, environ: Mapping[str, str] | None = None
    ) -> SuiteOptions | None:
        """The options of this run, or None when the run did not ask for the suite.

        ``environ`` (``os.environ`` by default) supplies what the options leave out.
        """
        if not requested(config):
            return None
        environ = os.environ if environ is None else environ
        speech_url = _strip(_option(config, "speech_url") or environ.get("SPEECH_BASE_URL"))
        settings = _environment(config, environ, need_provider=speech_url is None)
        baseline = _option(config, "known_failures")
        report = _option(config, "conformance_report")
        return cls(
            provider_url=str(settings.tts_remote_url or _server_root(str(speech_url))),
            api_key=_secret(settings, "tts_api_key"),
            whisper_url=settings.whisper_remote_url,
            whisper_mode=_set(settings, "whisper_mode"),
            openai_api_key=_secret(settings, "openai_api_key"),
            openai_base_url=_set(settings, "openai_base_url"),
            level=LevelSelection(config.getoption("conformance_level")),
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
            speech_url=speech_url,
            speech_api_key=_option(config, "speech_api_key") or environ.get("SPEECH_API_KEY"),
            speech_model=str(config.getoption("speech_model")),
            speech_voice=str(config.getoption("speech_voice")),
            speech_only=settings.tts_remote_url is None,
            robustness=bool(config.getoption("conformance_robustness")),
        )

    def selects(self, clause_id: str, level: str) -> bool:
        """Whether a case runs under --case, --skip-case and --conformance-level."""
        if self.speech_only and not clause_id.startswith("SPEECH-"):
            return False
        if self.level is LevelSelection.MUST and level != "MUST":
            return False
        if self.level is LevelSelection.SHOULD and level == "MAY":
            return False
        if self.cases and not any(fnmatch.fnmatchcase(clause_id, p) for p in self.cases):
            return False
        return not any(fnmatch.fnmatchcase(clause_id, p) for p in self.skip_cases)

    def client_settings(self) -> Settings:
        """The kit client's settings for this run; the environment was read already."""
        from voicebox_api import Settings

        overrides: dict[str, Any] = {
            "tts_mode": "remote",
            "tts_remote_url": self.provider_url,
            "tts_api_key": self.api_key,
            "whisper_remote_url": self.whisper_url,
            "openai_api_key": self.openai_api_key,
            "read_timeout": self.timeout_s,
        }
        if self.openai_base_url:
            overrides["openai_base_url"] = self.openai_base_url
        return Settings(**overrides)

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
            "speech_url": self.speech_url,
            "speech_api_key": "***" if self.speech_api_key else None,
            "speech_model": self.speech_model,
            "speech_voice": self.speech_voice,
            "robustness": self.robustness,
        }


def _set(settings: Settings, field_name: str) -> Any:
    """A value that an option or a variable set, or None where the default stands."""
    return getattr(settings, field_name) if field_name in settings.model_fields_set else None


def _server_root(speech_url: str) -> str:
    """The server's root for /health: the speech base URL without its ``/v1``."""
    return speech_url.removesuffix("/v1")


def _strip(url: str | None) -> str | None:
    return url.rstrip("/") if url else None
