"""Command-line options shared by the locustfile and the open-loop runner.

Both tools register these on their own parser (Locust's through its parser hook), so a scenario
is configured the same way whichever tool runs it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, Protocol, cast

from benchmarks.scenarios import (
    DIALECTS,
    SCENARIOS,
    Dialect,
    ScenarioName,
    ScenarioSettings,
    SeedPolicy,
    default_references,
    default_transcription_audio,
    load_corpus,
    load_references,
    parse_mix,
)
from benchmarks.verdicts import SloThresholds, ValidityThresholds
from voicebox_api import Settings

__all__ = [
    "add_scenario_arguments",
    "add_verdict_arguments",
    "api_key",
    "scenario_settings",
    "slo_latency_ms",
    "slo_thresholds",
    "validity_thresholds",
]


class _Parser(Protocol):
    def add_argument(self, *names: str, **options: Any) -> Any: ...


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in [0, 1]")
    return value


def _number(value: Any) -> float | None:
    """Options typed in Locust's web UI arrive as text, and empty text means unset."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value)


def add_scenario_arguments(parser: _Parser, *, locust: bool = False) -> None:
    parser.add_argument("--scenario", choices=SCENARIOS, default="generate", help="what to send")
    parser.add_argument(
        "--corpus", help="text file, one text per line (default: the bundled corpus)"
    )
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        help="reference audio file for voice cloning and transcription; repeatable "
        "(default: the kit's bundled recordings, else a generated tone)",
    )
    secret: dict[str, Any] = {"is_secret": True} if locust else {}
    parser.add_argument(
        "--transcribe-audio",
        action="append",
        default=[],
        help="audio file for the transcribe operation; repeatable (default: the kit's bundled "
        "transcription clips, else the references)",
    )
    parser.add_argument("--api-key", help="X-API-Key (default: $TTS_API_KEY)", **secret)
    parser.add_argument(
        "--seed-policy",
        choices=["fixed", "per-request", "none"],
        default="per-request",
        help="generate seeds: the same seed every time, a new seed per request, or null",
    )
    parser.add_argument(
        "--request-seed", type=int, default=1, help="seeds texts, operations and request seeds"
    )
    parser.add_argument("--language", default="en")
    parser.add_argument(
        "--mix", help="operation weights, e.g. generate=6,transcribe=2,health=1 (mixed scenarios)"
    )
    parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        default="voicebox",
        help="generate as Voicebox's /v1/generate, or as OpenAI's /v1/audio/speech (pcm)",
    )
    parser.add_argument("--speech-model", default="tts-1", help="model for --dialect openai-speech")
    parser.add_argument("--speech-voice", default="alloy", help="voice for --dialect openai-speech")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="ask /v1/generate for a stream (SPEC §14): record TTFP, frame gaps, playback stalls",
    )
    parser.add_argument(
        "--check-fraction",
        type=_fraction,
        default=0.1,
        help="fraction of responses decoded and checked in full (audio invariants)",
    )


def add_verdict_arguments(parser: _Parser) -> None:
    parser.add_argument(
        "--slo-latency-ms", type=float, help="latency objective that counts towards goodput"
    )
    parser.add_argument("--slo-p95-ms", type=float, help="fail (exit 1) above this exact p95")
    parser.add_argument("--slo-p99-ms", type=float, help="fail (exit 1) above this exact p99")
    parser.add_argument(
        "--max-error-ratio", type=_fraction, help="fail (exit 1) above this error ratio"
    )
    parser.add_argument(
        "--slo-operation",
        choices=["generate", "create_voice_prompt", "transcribe", "health"],
        help="apply the SLO to this operation only (e.g. health in health-under-load)",
    )
    parser.add_argument("--min-duration", type=float, default=20.0, help="validity: seconds")
    parser.add_argument("--min-requests", type=int, default=100, help="validity: requests")


def api_key(options: Any, environ: Mapping[str, str] | None = None) -> str | None:
    """``--api-key``, or else ``TTS_API_KEY`` as the kit's settings read it (raises
    :class:`voicebox_api.SettingsError` naming the variable when the environment is invalid)."""
    if options.api_key:
        return str(options.api_key)
    key = Settings.from_env(environ).tts_api_key
    return key.get_secret_value() if key is not None else None


def scenario_settings(options: Any) -> ScenarioSettings:
    references = load_references(options.reference) if options.reference else default_references()
    if options.transcribe_audio:
        transcription = load_references(options.transcribe_audio)
    elif options.reference:
        transcription = references
    else:
        transcription = default_transcription_audio()
    return ScenarioSettings(
        scenario=cast(ScenarioName, options.scenario),
        texts=tuple(load_corpus(options.corpus or None)),
        references=tuple(references),
        transcription_audio=tuple(transcription),
        language=options.language,
        api_key=api_key(options),
        seed_policy=cast(SeedPolicy, options.seed_policy),
        mix=parse_mix(options.mix) if options.mix else None,
        seed=int(options.request_seed),
        dialect=cast(Dialect, getattr(options, "dialect", "voicebox")),
        speech_model=getattr(options, "speech_model", "tts-1"),
        speech_voice=getattr(options, "speech_voice", "alloy"),
        stream=bool(getattr(options, "stream", False)),
    )


def slo_thresholds(options: Any) -> SloThresholds:
    return SloThresholds(
        p95_ms=_number(options.slo_p95_ms),
        p99_ms=_number(options.slo_p99_ms),
        max_error_ratio=_number(options.max_error_ratio),
        operation=options.slo_operation or None,
    )


def slo_latency_ms(options: Any) -> float | None:
    return _number(options.slo_latency_ms)


def validity_thresholds(options: Any) -> ValidityThresholds:
    return ValidityThresholds(
        min_duration_s=float(options.min_duration), min_requests=int(options.min_requests)
    )
