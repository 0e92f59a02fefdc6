"""The connection test behind a Settings page's "Test connection" button.

One call, bounded by a total budget (5 s by default): ``GET /health`` (status, model, API
version), ``POST /v1/create_voice_prompt`` with a 1.5 s tone (is the key accepted? 1.5 s because
some engines, the kit's espeak one among them, refuse references under 1 s), then
one short ``POST /v1/generate`` on a fresh connection, timed from httpx's ``trace`` extension
into connect, time to first byte (response headers in) and total (body read), and its audio
checked by the codec. Time to first packet (the first audio chunk of ``stream_generate``,
SPEC.md §14) is measured only when ``/health`` declares ``capabilities.streaming``; otherwise
it is reported as skipped. The verdict is the first failure, each class with its exit code:

====  ==================================================================
0     ok: Voicebox can use this provider
2     usage: bad arguments (argparse)
3     unreachable: no connection, or a timeout before an answer
4     auth rejected: 401/403 (with the key given, or none given)
5     not ready: ``/health`` says loading or unhealthy
6     generation failed: an error status, an invalid body or invalid audio
7     not a provider: ``/health`` answered something that is not a health body
====  ==================================================================
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

import httpx
import numpy as np
from pydantic import SecretStr, ValidationError

from voicebox_api._audiofile import write_audio
from voicebox_api._client import NO_RETRY, USER_AGENT, ProviderClient
from voicebox_api._codec import AudioCodecError, decode_response
from voicebox_api._models import (
    READY_STATUSES,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    VoicePromptResponse,
)
from voicebox_api._settings import Settings
from voicebox_api._stream import StreamAudio
from voicebox_api._version import SPEC_VERSION

__all__ = ["EXIT_CODES", "GenerationTiming", "PingReport", "Verdict", "ping"]

Verdict = Literal["ok", "unreachable", "auth_rejected", "not_ready", "generation_failed",
                  "not_a_provider"]  # fmt: skip
EXIT_CODES: Final[Mapping[Verdict, int]] = {
    "ok": 0,
    "unreachable": 3,
    "auth_rejected": 4,
    "not_ready": 5,
    "generation_failed": 6,
    "not_a_provider": 7,
}
DEFAULT_TEXT: Final = "Hello from Voicebox."
_REFERENCE_RATE: Final = 24_000
_REFERENCE_SECONDS: Final = 1.5


@dataclass
class GenerationTiming:
    connect_ms: float | None
    """TCP (and TLS) connect of the generation's fresh connection."""
    ttfb_ms: float
    """From sending the request to having its response headers."""
    total_ms: float
    audio_seconds: float
    sample_rate: int
    dtype: str


@dataclass
class PingReport:
    url: str
    verdict: Verdict = "ok"
    detail: str = ""
    health_status: str | None = None
    model: str | None = None
    device: str | None = None
    api_version: str | None = None
    kit_api_version: str = SPEC_VERSION
    health_ms: float | None = None
    key: Literal["accepted", "rejected", "required", "not sent", "not checked"] = "not checked"
    prompt_ms: float | None = None
    generation: GenerationTiming | None = None
    ttfp_ms: float | None = None
    ttfp_note: str = ""
    wall_ms: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}


class _Stop(Exception):
    def __init__(self, verdict: Verdict, detail: str) -> None:
        super().__init__(detail)
        self.verdict: Verdict = verdict
        self.detail = detail


class _Budget:
    def __init__(self, seconds: float) -> None:
        self._deadline = time.perf_counter() + seconds

    def seconds_left(self) -> float:
        return max(0.05, self._deadline - time.perf_counter())

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.seconds_left())


class _Trace:
    """Timestamps of httpcore's trace events for one request."""

    def __init__(self) -> None:
        self.events: dict[str, float] = {}

    def __call__(self, name: str, info: Mapping[str, Any]) -> None:
        self.events.setdefault(name, time.perf_counter())

    def span_ms(self, start: str, end: str) -> float | None:
        if start in self.events and end in self.events:
            return (self.events[end] - self.events[start]) * 1000
        return None


def ping(
    url: str,
    api_key: str | None = None,
    *,
    budget_s: float = 5.0,
    text: str = DEFAULT_TEXT,
    language: str = "en",
    transport: httpx.BaseTransport | None = None,
) -> PingReport:
    """Test the provider at ``url``; never raises for a provider's failure."""
    started = time.perf_counter()
    report = PingReport(url=url.rstrip("/"))
    budget = _Budget(budget_s)
    headers = {"User-Agent": USER_AGENT, **({"X-API-Key": api_key} if api_key else {})}
    try:
        with httpx.Client(base_url=report.url, headers=headers, transport=transport) as http:
            health = _check_health(http, budget, report)
            prompt = _check_key(http, budget, report, api_key)
        with httpx.Client(base_url=report.url, headers=headers, transport=transport) as fresh:
            _check_generation(fresh, budget, report, prompt, text=text, language=language)
        _check_first_packet(
            report, budget, health, api_key, prompt, text=text, language=language,
            transport=transport,
        )  # fmt: skip
    except _Stop as stop:
        report.verdict, report.detail = stop.verdict, stop.detail
    report.wall_ms = (time.perf_counter() - started) * 1000
    if report.verdict == "ok":
        report.detail = "ready for Voicebox"
    return report


def _send(
    http: httpx.Client, budget: _Budget, method: str, path: str, **kwargs: Any
) -> tuple[httpx.Response, _Trace, float]:
    trace = _Trace()
    started = time.perf_counter()
    try:
        response = http.request(
            method, path, timeout=budget.timeout(), extensions={"trace": trace}, **kwargs
        )
    except httpx.TimeoutException as exc:
        raise _Stop("unreachable", f"{method} /{path}: timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise _Stop("unreachable", f"{method} /{path}: {type(exc).__name__}: {exc}") from None
    return response, trace, (time.perf_counter() - started) * 1000


def _check_health(http: httpx.Client, budget: _Budget, report: PingReport) -> HealthResponse:
    response, _, elapsed = _send(http, budget, "GET", "health")
    report.health_ms = elapsed
    try:
        health = HealthResponse.model_validate_json(response.content)
    except ValidationError:
        raise _Stop(
            "not_a_provider", f"GET /health answered {response.status_code} without a health body"
        ) from None
    report.health_status, report.model, report.device = health.status, health.model, health.device
    report.api_version = health.api_version
    _note_version(report, health.api_version)
    if health.status not in READY_STATUSES:
        raise _Stop("not_ready", f"/health says {health.status}; Voicebox would wait")
    return health


def _note_version(report: PingReport, version: str | None) -> None:
    if version is None:
        report.notes.append("/health declares no api_version")
    elif version.split(".")[0] != SPEC_VERSION.split(".")[0]:
        report.notes.append(f"API {version}: another major version than this kit's {SPEC_VERSION}")


def _check_key(
    http: httpx.Client, budget: _Budget, report: PingReport, api_key: str | None
) -> dict[str, Any]:
    t = np.arange(int(_REFERENCE_RATE * _REFERENCE_SECONDS)) / _REFERENCE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + 0.3 * np.sin(2 * np.pi * 4 * t))).astype(
        np.float32
    )
    files = {"audio": ("ping.wav", write_audio(tone, _REFERENCE_RATE), "audio/wav")}
    data = {"reference_text": "A short tone."}
    response, _, elapsed = _send(http, budget, "POST", "v1/create_voice_prompt",
                                 files=files, data=data)  # fmt: skip
    report.prompt_ms = elapsed
    if response.status_code in (401, 403):
        report.key = "rejected" if api_key else "required"
        detail = "the key was rejected" if api_key else "the provider requires a key; none given"
        raise _Stop("auth_rejected", f"{detail} ({response.status_code})")
    report.key = "accepted" if api_key else "not sent"
    if response.status_code != 200:
        raise _Stop("generation_failed", _status_detail("create_voice_prompt", response))
    try:
        return VoicePromptResponse.model_validate_json(response.content).voice_prompt
    except ValidationError:
        raise _Stop("generation_failed", "create_voice_prompt: not a voice prompt body") from None


def _check_generation(
    http: httpx.Client,
    budget: _Budget,
    report: PingReport,
    prompt: dict[str, Any],
    *,
    text: str,
    language: str,
) -> None:
    body = GenerateRequest(text=text, voice_prompt=prompt, language=language)
    response, trace, elapsed = _send(http, budget, "POST", "v1/generate",
                                     json=body.model_dump())  # fmt: skip
    if response.status_code != 200:
        raise _Stop("generation_failed", _status_detail("generate", response))
    connect = trace.span_ms("connection.connect_tcp.started", "connection.connect_tcp.complete")
    tls = trace.span_ms("connection.start_tls.started", "connection.start_tls.complete")
    sent = trace.events.get("http11.send_request_headers.started")
    headers_in = trace.events.get("http11.receive_response_headers.complete")
    ttfb = (headers_in - sent) * 1000 if sent and headers_in else elapsed
    try:
        audio = decode_response(GenerateResponse.model_validate_json(response.content))
    except (ValidationError, AudioCodecError) as exc:
        reason = str(exc).splitlines()[0]
        raise _Stop("generation_failed", f"generate: invalid audio ({reason})") from None
    report.generation = GenerationTiming(
        connect_ms=None if connect is None else connect + (tls or 0.0),
        ttfb_ms=ttfb,
        total_ms=elapsed,
        audio_seconds=audio.duration_s,
        sample_rate=audio.sample_rate,
        dtype=audio.dtype,
    )


def _check_first_packet(
    report: PingReport,
    budget: _Budget,
    health: HealthResponse,
    api_key: str | None,
    prompt: dict[str, Any],
    *,
    text: str,
    language: str,
    transport: httpx.BaseTransport | None,
) -> None:
    capabilities = health.capabilities
    if capabilities is None or capabilities.streaming is not True:
        report.ttfp_note = "skipped: /health declares no streaming"
        return
    seconds = budget.seconds_left()
    settings = Settings(
        tts_remote_url=report.url,
        tts_api_key=SecretStr(api_key) if api_key else None,
        connect_timeout=seconds,
        read_timeout=seconds,
        write_timeout=seconds,
        pool_timeout=seconds,
    )
    try:
        with ProviderClient(settings=settings, retry=NO_RETRY, transport=transport) as client:
            started = time.perf_counter()
            for chunk in client.stream_generate(text, prompt, language):
                if isinstance(chunk, StreamAudio):  # the header is not audio yet
                    report.ttfp_ms = (time.perf_counter() - started) * 1000
                    break
            if report.ttfp_ms is None:
                report.ttfp_note = "streaming failed: the stream held no audio"
    except Exception as exc:  # a streaming failure is reported, not fatal to the verdict
        report.ttfp_note = f"streaming failed: {type(exc).__name__}"


def _status_detail(endpoint: str, response: httpx.Response) -> str:
    snippet = response.text.strip().replace("\n", " ")[:160]
    return f"{endpoint} answered {response.status_code}: {snippet or '(empty body)'}"


def render(report: PingReport) -> str:
    """The human-readable report."""
    lines = [f"voicebox-provider-ping {report.url}"]
    if report.health_status is not None:
        version = report.api_version or "undeclared"
        lines.append(
            f"  health       {report.health_status} · {report.model} on {report.device} · "
            f"API {version} (kit {report.kit_api_version}) · {_ms(report.health_ms)}"
        )
    lines.append(f"  key          {report.key}")
    if report.prompt_ms is not None:
        lines.append(f"  voice prompt {_ms(report.prompt_ms)}")
    if (g := report.generation) is not None:
        lines.append(
            f"  generation   {g.audio_seconds:.2f} s of {g.dtype} audio at {g.sample_rate} Hz · "
            f"connect {_ms(g.connect_ms)} · first byte {_ms(g.ttfb_ms)} · total {_ms(g.total_ms)}"
        )
    ttfp = _ms(report.ttfp_ms) if report.ttfp_ms is not None else report.ttfp_note
    if ttfp:
        lines.append(f"  first packet {ttfp}")
    lines.extend(f"  note         {note}" for note in report.notes)
    label = "OK" if report.verdict == "ok" else report.verdict.replace("_", " ").upper()
    lines.append(
        f"verdict: {label}: {report.detail} (exit {report.exit_code}, "
        f"{report.wall_ms / 1000:.2f} s)"
    )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
