"""The benchmark results document: one stable, self-describing JSON format for every tool.

Every tool of ``benchmarks/`` (the open-loop runner, the locustfile, the load-balancing suite,
the self-check) writes one of the documents below. Each carries ``schema_version`` and ``kind``
so that a reader (the reports package) can dispatch with :func:`load_document`, and
``python -m benchmarks.results`` prints the JSON Schema of all of them.

Conventions, stated once:

- Durations are milliseconds (``*_ms``) measured on a monotonic clock; instants are Unix epoch
  seconds (``*_at``) from the wall clock, used only to place events on a timeline.
- Percentiles are exact, by the nearest-rank method on every sample (no histogram buckets, no
  interpolation): pN is the smallest recorded value that is at least N % of the samples.
- Latency is measured from the request's *intended* send time. In open-loop runs that is the
  schedule's time, so client-side lateness (``queue_ms``) is charged to latency instead of
  hidden (coordinated omission). Closed-loop runs have no schedule: intended equals sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

__all__ = [
    "READABLE_MAJORS",
    "SCHEMA_VERSION",
    "AnyDocument",
    "BackendShare",
    "ClientHost",
    "CorrectnessSummary",
    "Distribution",
    "Document",
    "ErrorBurst",
    "FailoverResult",
    "GoodputSummary",
    "LoadBalanceReport",
    "NginxSettings",
    "OperationSummary",
    "Provenance",
    "RequestRecord",
    "RunConfig",
    "RunResult",
    "RunSummary",
    "SaturationStep",
    "ScalingPoint",
    "SelfCheckReport",
    "SloVerdict",
    "SlowBackendResult",
    "StallComparison",
    "StallObservation",
    "ValidityCheck",
    "ValidityReport",
    "load_document",
    "write_document",
]

SCHEMA_VERSION = "2.0"
"""MAJOR.MINOR. A minor version only adds optional fields; readers ignore fields they lack.

2.0: a run's ``config`` is a typed ``RunConfig``; the open loop's ``rate`` is
``nominal_rate_rps`` only. 1.x documents are still read (``RunConfig`` maps their keys)."""
READABLE_MAJORS = ("1", "2")
"""The major versions this kit reads."""

Operation = Literal["generate", "create_voice_prompt", "transcribe", "health", "null"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)


class ClientHost(_Model):
    """The machine that generated the load."""

    hostname: str
    os: str = Field(description="platform.platform()")
    python: str
    cpu_model: str
    cpu_count: int
    load_average: list[float] | None = Field(
        default=None, description="1, 5 and 15 minute load averages at the start of the run."
    )


class Provenance(_Model):
    """Where a document comes from: enough to reproduce or to distrust it."""

    tool: str = Field(description="benchmarks.openloop, benchmarks.locustfile, ...")
    kit_version: str
    spec_version: str
    command: list[str] = Field(description="argv of the process that wrote the document.")
    target: str = Field(description="Base URL of the provider (or the load balancer).")
    scenario: str | None = None
    dialect: str = Field(
        default="voicebox",
        description="voicebox (/v1/generate) or openai-speech (/v1/audio/speech, SPEC.md §15).",
    )
    seeds: dict[str, int | str | None] = Field(
        default_factory=dict,
        description="Every seed that shaped the run: schedule, corpus order, request seeds.",
    )
    started_at: float = Field(description="Unix epoch seconds.")
    ended_at: float = Field(description="Unix epoch seconds.")
    client: ClientHost
    provider_health: dict[str, Any] | None = Field(
        default=None, description="The provider's GET /health body before the run, verbatim."
    )
    provider_health_error: str | None = None
    notes: list[str] = Field(default_factory=list)


class RequestRecord(_Model):
    """One request as the client saw it."""

    id: str = Field(description="The X-Request-ID the client sent.")
    operation: Operation
    worker: str | None = Field(default=None, description="Locust worker, when distributed.")
    intended_at: float = Field(description="When the schedule meant to send it (epoch s).")
    sent_at: float | None = Field(default=None, description="When it was sent; null if dropped.")
    ended_at: float | None = None
    queue_ms: float = Field(
        default=0.0, description="sent - intended: client-side lateness (open-loop only)."
    )
    service_ms: float | None = Field(
        default=None, description="From send to the last byte of the response."
    )
    latency_ms: float | None = Field(
        default=None, description="queue_ms + service_ms: what a user of the schedule waited."
    )
    status: int | None = Field(default=None, description="HTTP status; null without a response.")
    ok: bool
    error_class: str | None = Field(
        default=None,
        description="http_<status>, connect_error, timeout, transport_error, invalid_body, "
        "invalid_audio.<AUD-clause>, client_overflow, ...",
    )
    error_detail: str | None = None
    request_bytes: int = 0
    response_bytes: int = Field(default=0, description="Body bytes after content decoding.")
    audio_s: float | None = Field(default=None, description="Seconds of audio returned.")
    served_by: str | None = Field(default=None, description="The X-Served-By header.")
    server_timing: dict[str, float] = Field(
        default_factory=dict, description="Server-Timing durations in ms, by metric name."
    )
    ttfp_ms: float | None = Field(
        default=None,
        description="Streamed requests (SPEC §14): intended send time to the first audio frame.",
    )
    gap_max_ms: float | None = Field(
        default=None, description="Streamed requests: the longest wait between audio frames."
    )
    underruns: int | None = Field(
        default=None,
        description="Streamed requests: stalls of a player that starts at the first frame.",
    )
    stall_s: float | None = Field(
        default=None, description="Streamed requests: those stalls' total length in seconds."
    )
    checked: bool = Field(
        default=False, description="Whether this response was decoded and checked in full."
    )


class Distribution(_Model):
    """Exact order statistics of a sample (nearest rank)."""

    count: int
    min: float
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    p999: float
    max: float
    unit: str = "ms"
    method: Literal["nearest-rank"] = "nearest-rank"


class GoodputSummary(_Model):
    """Requests that succeeded within the latency objective."""

    slo_ms: float
    within_slo: int
    goodput_rps: float
    ratio: float = Field(description="within_slo / requests issued.")


class CorrectnessSummary(_Model):
    sample_fraction: float
    checked: int
    passed: int
    failed: int
    failures_by_class: dict[str, int] = Field(default_factory=dict)


class OperationSummary(_Model):
    requests: int
    ok: int
    errors: int
    latency: Distribution | None = None


class RunSummary(_Model):
    """What a run measured. Rates divide by ``duration_s``, the scheduled window."""

    duration_s: float
    requests: int = Field(description="Requests issued, including dropped ones.")
    sent: int
    ok: int
    errors: int
    error_ratio: float
    errors_by_class: dict[str, int]
    dropped: int = Field(description="Never sent: the client's concurrency cap was full.")
    throughput_rps: float = Field(description="Completed responses (any status) per second.")
    ok_rps: float
    latency: Distribution | None = Field(
        default=None, description="Successful requests, from intended send time."
    )
    service_time: Distribution | None = Field(
        default=None, description="Successful requests, from actual send time."
    )
    queue_time: Distribution | None = Field(
        default=None, description="Client-side lateness of every sent request."
    )
    by_operation: dict[str, OperationSummary] = Field(default_factory=dict)
    rtf: Distribution | None = Field(
        default=None, description="Per generate request: latency / audio seconds (unit: ratio)."
    )
    server_rtf: Distribution | None = Field(
        default=None, description="Server-Timing inference duration / audio seconds, if sent."
    )
    audio_seconds: float
    audio_s_per_s: float = Field(description="Seconds of audio generated per wall second.")
    goodput: GoodputSummary | None = None
    request_bytes: int
    response_bytes: int
    served_by: dict[str, int] = Field(default_factory=dict)
    correctness: CorrectnessSummary | None = None
    ttfp: Distribution | None = Field(
        default=None, description="Streamed requests: time to the first audio frame."
    )
    underrun_requests: int | None = Field(
        default=None, description="Streamed requests whose player stalled at least once."
    )
    stall_s: float | None = Field(default=None, description="Streamed requests: total stall.")


class ValidityCheck(_Model):
    name: str
    passed: bool
    required: bool = Field(
        default=True, description="A failed required check makes the run INVALID."
    )
    value: float | None = None
    threshold: float | None = None
    detail: str


class ValidityReport(_Model):
    valid: bool
    reasons: list[str] = Field(description="Why the run is INVALID; empty when valid.")
    checks: list[ValidityCheck]


class SloVerdict(_Model):
    """The quit gate: whether the run met its objectives (exit code 0) or not (1)."""

    passed: bool
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_error_ratio: float | None = None
    operation: str | None = Field(default=None, description="The operation judged; null: all.")
    failures: list[str] = Field(default_factory=list)


class SaturationStep(_Model):
    """One step of a ramp: what the load was and what came back."""

    index: int
    users: int | None = None
    target_rps: float | None = None
    started_at: float
    ended_at: float
    requests: int
    ok_rps: float
    error_ratio: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    saturated: bool = False
    reason: str | None = None


class RunConfig(_Model):
    """A run's settings, typed: what readers pair, compare and label runs by.

    Members a tool adds beyond these are kept as they are (``extra``); readers do not rely on
    them. Open- and closed-loop runs (``benchmarks.openloop``) fill the loop members, Locust runs
    the Locust ones; the rest are null.
    """

    scenario: str
    mix: dict[str, float] = Field(default_factory=dict, description="Operation weights.")
    check_fraction: float = Field(description="Share of responses decoded and checked in full.")
    references: list[str] = Field(default_factory=list, description="Reference clips used.")
    texts: int | None = Field(default=None, description="Texts in the corpus.")
    slo_latency_ms: float | None = None
    # Open and closed loop.
    schedule: str | None = Field(default=None, description="poisson, constant, ...")
    nominal_rate_rps: float | None = Field(
        default=None,
        description="The rate asked for (--rate): open loop, the target; closed loop, the "
        "loops' total pacing rate (0: as fast as they can).",
    )
    scheduled_rate_rps: float | None = Field(
        default=None,
        description="Open loop: requests the seeded schedule offered per second of the run "
        "(a short Poisson schedule strays from the nominal rate).",
    )
    scheduled: int | None = Field(default=None, description="Requests the schedule held.")
    duration_s: float | None = None
    seed: int | None = Field(default=None, description="The schedule's seed.")
    concurrency: int | None = Field(
        default=None, description="Open loop: cap on requests in flight. Closed loop: loops."
    )
    voices: int | None = Field(default=None, description="Voice prompts made at setup.")
    timeout_s: float | None = None
    max_requests: int | None = None
    client_cpu: float | None = Field(default=None, description="Client CPU, share of a core.")
    client_cpu_peak_1s: float | None = None
    client_loop_lag_ms: Distribution | None = None
    # Locust.
    users: int | None = None
    spawn_rate: float | None = None
    run_time_s: float | None = None
    user_rate: float | None = Field(default=None, description="Requests per second per user.")
    shape: str | None = None
    workers: int | None = Field(default=None, description="Locust worker processes.")
    client_cpu_by_process: list[float] = Field(default_factory=list)
    stop_timeout_s: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_version_1(cls, data: Any) -> Any:
        """1.x wrote the open loop's settings verbatim (``rate``, sometimes without the derived
        rates) and Locust's ``run_time`` and ``stop_timeout`` without their unit."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "rate" in data:
            rate = data.pop("rate")
            data.setdefault("nominal_rate_rps", rate)
        for old, new in (("run_time", "run_time_s"), ("stop_timeout", "stop_timeout_s")):
            if old in data:
                data.setdefault(new, data.pop(old))
        if data.get("scheduled_rate_rps") is None and data.get("mode", "open") == "open":
            scheduled, duration = data.get("scheduled"), data.get("duration_s")
            if isinstance(scheduled, int) and isinstance(duration, int | float) and duration > 0:
                data["scheduled_rate_rps"] = scheduled / duration
            elif "nominal_rate_rps" in data:
                data["scheduled_rate_rps"] = data["nominal_rate_rps"]
        return data


class RunResult(_Model):
    """A single load run: open-loop, closed-loop or Locust."""

    schema_version: str = SCHEMA_VERSION
    kind: Literal["run"] = "run"
    provenance: Provenance
    mode: Literal["open-loop", "closed-loop", "locust"]
    config: RunConfig
    summary: RunSummary
    validity: ValidityReport
    slo: SloVerdict | None = None
    steps: list[SaturationStep] = Field(
        default_factory=list, description="Load-shape steps, when a shape drove the run."
    )
    records: list[RequestRecord] = Field(
        default_factory=list, description="Every request, in intended-time order."
    )
    setup_records: list[RequestRecord] = Field(
        default_factory=list,
        description="Requests made before the measured window (voice prompts); not summarised.",
    )


# --- Load balancing --------------------------------------------------------------------------


class NginxSettings(_Model):
    version: str
    balance: str
    directives: dict[str, str] = Field(description="The upstream and proxy directives chosen.")
    rationale: str


class BackendShare(_Model):
    requests: dict[str, int] = Field(description="Requests served, by X-Served-By.")
    share: dict[str, float]
    max_deviation: float = Field(description="Largest |share - 1/N|.")
    unattributed: int = Field(description="Responses without an X-Served-By header.")
    run: RunSummary


class ScalingPoint(_Model):
    backends: int
    ok_rps: float
    efficiency: float = Field(description="ok_rps / (backends x ok_rps with one backend).")
    latency: Distribution | None


class ErrorBurst(_Model):
    errors: int
    first_error_after_kill_ms: float | None
    last_error_after_kill_ms: float | None
    burst_ms: float = Field(description="From the first to the last error (0 with one error).")


class FailoverResult(_Model):
    killed: str = Field(description="Instance id of the backend killed with SIGKILL.")
    killed_after_s: float
    burst: ErrorBurst
    recovery_ms: float = Field(
        description="From the kill until the last failed request ended; 0 if none failed."
    )
    requests_after_kill_by_backend: dict[str, int]
    run: RunSummary


class SlowBackendResult(_Model):
    slow_backend: str
    slowdown: float
    by_policy: dict[str, RunSummary] = Field(description="round_robin and least_conn.")


class LoadBalanceReport(_Model):
    schema_version: str = SCHEMA_VERSION
    kind: Literal["loadbalance"] = "loadbalance"
    provenance: Provenance
    backends: int
    backend_command: list[str]
    nginx: NginxSettings
    share: BackendShare | None = None
    scaling: list[ScalingPoint] = Field(default_factory=list)
    failover: FailoverResult | None = None
    slow_backend: SlowBackendResult | None = None


# --- Coordinated omission: one stall, seen by an open and a closed loop -----------------------


class StallObservation(_Model):
    generator: str = Field(description="open-loop, closed-loop, locust")
    description: str
    summary: RunSummary
    affected: int = Field(description="Requests whose latency exceeded the affected threshold.")
    server_held: int = Field(description="Requests the provider held in the stall, by its log.")


class StallComparison(_Model):
    schema_version: str = SCHEMA_VERSION
    kind: Literal["stall-comparison"] = "stall-comparison"
    provenance: Provenance
    stall_s: float
    stall_at_s: float
    service: str
    affected_threshold_ms: float
    observations: list[StallObservation]


# --- The harness's own performance --------------------------------------------------------------


class SelfCheckReport(_Model):
    schema_version: str = SCHEMA_VERSION
    kind: Literal["selfcheck"] = "selfcheck"
    provenance: Provenance
    null_provider: str
    wrk_rps: float | None
    clients: dict[str, dict[str, float]] = Field(
        description="Per client (openloop-closed, locust-fasthttp): rps, cpu, ratio_to_wrk."
    )
    schedule_accuracy: list[dict[str, float]] = Field(
        description="Per target rate: target_rps, achieved_rps, ratio, queue p99 ms, client cpu."
    )
    provisional: bool = Field(description="True when measured on a shared or busy machine.")


AnyDocument = RunResult | LoadBalanceReport | SelfCheckReport | StallComparison
Document = Annotated[AnyDocument, Field(discriminator="kind")]
_DOCUMENT: TypeAdapter[AnyDocument] = TypeAdapter(Document)


def load_document(path: str | Path) -> AnyDocument:
    """Read any benchmark document, dispatching on its ``kind``."""
    return _DOCUMENT.validate_json(Path(path).read_bytes())


def write_document(document: BaseModel, path: str | Path) -> Path:
    """Write a document as indented JSON, creating parent folders."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(document.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return target


def _main() -> None:
    print(json.dumps(_DOCUMENT.json_schema(), indent=1))


if __name__ == "__main__":
    _main()
