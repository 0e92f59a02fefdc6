"""Write the report tests' fixture documents: ``python -m tests.reports.make_fixtures``.

The documents are made up, seeded and plausible (a GPU provider and the espeak reference
server), built with the real models and the benchmark package's own statistics, so that they
stay valid documents as the formats evolve. An API key is planted wherever one could leak
(URL userinfo, an unredacted option, a curl header, an argv, free text); the tests check that
it never reaches a report.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks.results import (
    BackendShare,
    ClientHost,
    ErrorBurst,
    FailoverResult,
    LoadBalanceReport,
    NginxSettings,
    Provenance,
    RequestRecord,
    RunConfig,
    RunResult,
    ScalingPoint,
    SelfCheckReport,
    SlowBackendResult,
    StallComparison,
    StallObservation,
)
from benchmarks.stats import summarize
from benchmarks.verdicts import ValidityThresholds, check_validity
from conformance.engine.record import (
    CaseResult,
    ConformanceRecord,
    JudgeInfo,
    RequestTally,
    Verdict,
)
from conformance.engine.record import (
    Provenance as ConformanceProvenance,
)
from conformance.engine.spec import clauses
from reports.environment import EnvironmentSnapshot, GpuInfo

FIXTURES: Final = Path(__file__).with_name("fixtures")
PLANTED_KEY: Final = "sk-PLANTED-4f9c2e71b8a04d3c"
PROVIDER_HOST: Final = "gpu-box.example.net"
PROVIDER_URL: Final = f"http://{PROVIDER_HOST}:8000"
REFERENCE_URL: Final = "http://127.0.0.1:8123"
CLIENT_HOST: Final = "bench-laptop"
START: Final = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SLO_MS: Final = 2000.0

PROVIDER_HEALTH: Final = {
    "status": "healthy",
    "model": "Qwen3-TTS-12Hz-1.7B-Base",
    "device": "cuda:0",
    "api_version": "0.2",
    "capabilities": {
        "languages": ["en", "zh", "ja"],
        "deterministic_seed": True,
        "transcribe": False,
        "openai_transcriptions": False,
    },
}
REFERENCE_HEALTH: Final = {
    "status": "healthy",
    "model": "espeak-ng 1.52",
    "device": "cpu",
    "api_version": "0.2",
    "capabilities": {"languages": ["en"], "deterministic_seed": True, "transcribe": True},
}

# Verdicts that differ from PASS for the provider, with what a real run would say.
_PROVIDER_CASES: Final[dict[str, dict[str, Any]]] = {
    "VP-8": {
        "verdict": Verdict.FAIL,
        "expected": "200, or 400/422",
        "actual": "500 Internal Server Error",
        "reason": "the filename ../../missing-dir/x.wav was used as a path",
        "curl": (
            f"curl -sS -X POST {PROVIDER_URL}/v1/create_voice_prompt \\\n"
            f"  -H 'X-API-Key: {PLANTED_KEY}' \\\n"
            "  -F 'audio=@reference-a.wav;filename=../../missing-dir/x.wav' \\\n"
            "  --form-string 'reference_text=The quick brown fox.'"
        ),
        "evidence": {"status": 500, "body": {"detail": "Internal Server Error"}},
    },
    "ERR-5": {
        "verdict": Verdict.FAIL,
        "expected": "no 5xx for any JSON body",
        "actual": '500 for {"text": "hi", "voice_prompt": {"ref_code": null}}',
        "reason": f"a 5xx answered a client mistake (sent with key {PLANTED_KEY})",
        "curl": (
            f"curl -sS -X POST {PROVIDER_URL}/v1/generate \\\n"
            f"  -H 'X-API-Key: {PLANTED_KEY}' -H 'Content-Type: application/json' \\\n"
            '  --data-raw \'{"text": "hi", "voice_prompt": {"ref_code": null}}\''
        ),
    },
    "AUD-11": {
        "verdict": Verdict.NON_STRICT,
        "expected": "at most 1.0 s of leading and trailing silence",
        "actual": "1.42 s of trailing silence",
        "reason": "trailing silence 1.42 s > 1.0 s | for walk-A",
    },
    "CON-1": {
        "verdict": Verdict.FLAKY,
        "reason": "failed once (1 of 4 answers differed in duration), passed on replay",
    },
    "SPK-2": {"verdict": Verdict.INFO, "reason": "sim(out_A, A) = 0.81, sim(out_B, B) = 0.79"},
}
_UNIMPLEMENTED: Final = ("TRN-", "OAI-")


def _conformance_cases(
    overrides: dict[str, dict[str, Any]], unimplemented: bool
) -> list[CaseResult]:
    cases = []
    for index, clause in enumerate(clauses()):
        fields: dict[str, Any] = {"verdict": Verdict.PASS}
        if unimplemented and clause.id.startswith(_UNIMPLEMENTED):
            fields = {
                "verdict": Verdict.UNIMPLEMENTED,
                "reason": "capabilities declare transcription lacking",
            }
        fields.update(overrides.get(clause.id, {}))
        cases.append(
            CaseResult(
                id=clause.id,
                level=clause.level.value,
                section=clause.section,
                requirement=clause.text,
                duration_s=round(0.05 + (index % 7) * 0.31, 2),
                requests=1 + index % 3,
                **fields,
            )
        )
    return cases


def conformance_record(role: str) -> ConformanceRecord:
    provider = role == "provider"
    cases = _conformance_cases(
        _PROVIDER_CASES
        if provider
        else {
            "SPK-1": {
                "verdict": Verdict.NON_STRICT,
                "expected": "margin ≥ 0.05",
                "actual": "margin 0.03",
                "reason": "espeak moves little towards a reference",
            },
            "SPK-2": {"verdict": Verdict.INFO, "reason": "sim(out_A, A) = 0.52"},
            "OAI-1": {
                "verdict": Verdict.SKIPPED,
                "reason": "no OpenAI-compatible endpoint given",
                "enable_hint": "--whisper-mode openai-api --openai-base-url URL",
            },
        },
        unimplemented=provider,
    )
    started = START if provider else START + timedelta(minutes=9)
    duration = 84.2 if provider else 47.9
    url = f"http://voicebox:{PLANTED_KEY}@{PROVIDER_HOST}:8000" if provider else REFERENCE_URL
    summary = {v: sum(c.verdict is v for c in cases) for v in Verdict}
    return ConformanceRecord(
        provenance=ConformanceProvenance(
            kit_version="0.2.0",
            spec_version="0.2",
            provider_url=url,
            provider_health=PROVIDER_HEALTH if provider else REFERENCE_HEALTH,
            started_at=started,
            finished_at=started + timedelta(seconds=duration),
            duration_s=duration,
            judges=[
                JudgeInfo(
                    role="asr",
                    name="faster-whisper tiny.en",
                    version="1.1.1",
                    detail="int8, beam 5",
                ),
                JudgeInfo(role="speaker", name="resemblyzer", version="0.1.4"),
            ],
            options={
                "provider_url": url,
                "api_key": PLANTED_KEY if provider else "***",
                "level": "all",
                "strict": False,
                "asr_judge": "auto",
            },
            python="3.11.7",
            platform="Linux-6.1.0-31-amd64-x86_64-with-glibc2.36",
            pytest="8.3.4",
        ),
        cases=cases,
        requests=RequestTally(
            total=61 if provider else 58,
            by_endpoint={"/health": 3, "/v1/generate": 24},
            generate_calls=24,
        ),
        summary=summary,
        passed=not any(c.verdict is Verdict.FAIL for c in cases),
    )


def _client() -> ClientHost:
    return ClientHost(
        hostname=CLIENT_HOST,
        os="Linux-6.1.0-31-amd64-x86_64-with-glibc2.36",
        python="3.11.7",
        cpu_model="AMD Ryzen 7 7840U w/ Radeon 780M Graphics",
        cpu_count=16,
        load_average=[0.41, 0.37, 0.30],
    )


def _provenance(
    tool: str,
    target: str,
    started: float,
    ended: float,
    *,
    health: dict[str, Any],
    command: list[str],
    scenario: str | None = "generate",
    seed: int = 1,
) -> Provenance:
    return Provenance(
        tool=tool,
        kit_version="0.2.0",
        spec_version="0.2",
        command=command,
        target=target,
        scenario=scenario,
        seeds={"schedule": seed, "requests": 1, "seed_policy": "per-request"},
        started_at=started,
        ended_at=ended,
        client=_client(),
        provider_health=health,
    )


def _records(
    rate: float,
    duration: float,
    start: float,
    *,
    median_ms: float,
    capacity: float,
    seed: int,
    served_by: list[str],
) -> list[RequestRecord]:
    """Poisson arrivals; latency grows as the rate nears capacity; 503 beyond it."""
    rng = np.random.default_rng(seed)
    offsets = np.cumsum(rng.exponential(1 / rate, size=int(rate * duration * 2)))
    offsets = offsets[offsets < duration]
    load = min(rate / capacity, 0.97)
    records = []
    for index, offset in enumerate(offsets.tolist()):
        intended = start + offset
        queue = float(abs(rng.normal(0.4, 0.2)))
        service = float(median_ms / (1 - load) ** 0.7 * math.exp(0.35 * rng.standard_normal()))
        audio = float(rng.uniform(1.6, 4.2))
        overloaded = rate > capacity and rng.random() < (rate - capacity) / rate
        sent = intended + queue / 1000
        record = RequestRecord(
            id=f"fx{seed}-{index}",
            operation="generate",
            intended_at=round(intended, 4),
            sent_at=round(sent, 4),
            ended_at=round(sent + service / 1000, 4),
            queue_ms=round(queue, 3),
            service_ms=round(service, 2),
            latency_ms=round(queue + service, 2),
            status=503 if overloaded else 200,
            ok=not overloaded,
            error_class="http_503" if overloaded else None,
            error_detail="queue full" if overloaded else None,
            request_bytes=812,
            response_bytes=0 if overloaded else int(audio * 24000 * 4 * 4 / 3),
            audio_s=None if overloaded else round(audio, 3),
            served_by=served_by[index % len(served_by)],
            checked=index % 10 == 0 and not overloaded,
        )
        records.append(record)
    return records


def run_result(
    role: str, rate: float, duration: float, *, start: float, seed: int, min_duration: float = 20.0
) -> RunResult:
    provider = role == "provider"
    target = PROVIDER_URL if provider else REFERENCE_URL
    median, capacity = (380.0, 5.0) if provider else (95.0, 14.0)
    records = _records(
        rate,
        duration,
        start,
        median_ms=median,
        capacity=capacity,
        seed=seed,
        served_by=[f"{PROVIDER_HOST}-4121"] if provider else ["demo-reference"],
    )
    summary = summarize(records, duration, slo_ms=SLO_MS, check_fraction=0.1)
    # Short fixture runs: the thresholds are lowered as `--min-requests 20` would lower them.
    thresholds = ValidityThresholds(min_duration_s=min_duration, min_requests=20)
    validity = check_validity(
        summary,
        thresholds,
        client_cpu=0.07 + rate / 200,
        scheduled=len(records),
        open_loop=True,
        send_span_s=duration,
    )
    command = [
        "/home/ana/voicebox-provider-kit/.venv/bin/python",
        "-m",
        "benchmarks.openloop",
        "--host",
        target,
        "--rate",
        f"{rate:g}",
        "--duration",
        f"{duration:g}",
        "--seed",
        str(seed),
        "--slo-latency-ms",
        f"{SLO_MS:g}",
    ]
    if provider:
        command += ["--api-key", PLANTED_KEY]
    ended = start + duration + 1.3
    return RunResult(
        provenance=_provenance(
            "benchmarks.openloop",
            target,
            start,
            ended,
            health=PROVIDER_HEALTH if provider else REFERENCE_HEALTH,
            command=command,
            seed=seed,
        ),
        mode="open-loop",
        config=RunConfig(
            scenario="generate",
            check_fraction=0.1,
            slo_latency_ms=SLO_MS,
            schedule="poisson",
            nominal_rate_rps=rate,
            scheduled_rate_rps=rate,
            scheduled=len(records),
            duration_s=duration,
            seed=seed,
            concurrency=512,
            voices=1,
            api_key=PLANTED_KEY if provider else None,  # a tool's own member, kept verbatim
        ),
        summary=summary,
        validity=validity,
        records=records,
    )


def _lb_summary(rate: float, duration: float, start: float, seed: int, served_by: list[str]) -> Any:
    records = _records(
        rate, duration, start, median_ms=95.0, capacity=40.0, seed=seed, served_by=served_by
    )
    return summarize(records, duration, slo_ms=SLO_MS)


def _failover(start: float) -> FailoverResult:
    """Three backends; ref-2 dies 8 s in, and the three requests it held fail (502)."""
    records = _records(
        10.0,
        20.0,
        start,
        median_ms=95.0,
        capacity=40.0,
        seed=32,
        served_by=["ref-1", "ref-2", "ref-3"],
    )
    kill = start + 8.0
    held = [r for r in records if r.served_by == "ref-2" and r.intended_at < kill][-3:]
    for record in records:
        if record.served_by == "ref-2" and record.intended_at >= kill:
            record.served_by = "ref-1" if record.id.endswith(("0", "2", "4", "6", "8")) else "ref-3"
    for index, record in enumerate(held):
        record.ok, record.status, record.error_class = False, 502, "http_502"
        record.audio_s, record.served_by, record.checked = None, None, False
        record.ended_at = kill + (0.004, 0.118, 0.212)[index]
    after = Counter(r.served_by or "none" for r in records if r.intended_at >= kill)
    return FailoverResult(
        killed="ref-2",
        killed_after_s=8.0,
        burst=ErrorBurst(
            errors=3, first_error_after_kill_ms=4.0, last_error_after_kill_ms=212.0, burst_ms=208.0
        ),
        recovery_ms=212.0,
        requests_after_kill_by_backend=dict(sorted(after.items())),
        run=summarize(records, 20.0, slo_ms=SLO_MS),
    )


def loadbalance_report() -> LoadBalanceReport:
    start = START.timestamp() + 1500
    backends = ["ref-1", "ref-2", "ref-3"]
    share_run = _lb_summary(12.0, 20.0, start, 31, backends)
    requests = {b: share_run.served_by.get(b, 0) for b in backends}
    total = sum(requests.values())
    shares = {b: n / total for b, n in requests.items()}
    failover = _failover(start + 60)
    return LoadBalanceReport(
        provenance=_provenance(
            "benchmarks.loadbalance",
            "http://127.0.0.1:8480",
            start,
            start + 140,
            health=REFERENCE_HEALTH,
            scenario="generate",
            command=["python", "-m", "benchmarks.loadbalance", "--backends", "3"],
        ),
        backends=3,
        backend_command=[
            "{python} -m reference_server --port {port} --instance-id {instance_id}",
            "{python} -m reference_server --port {port} --instance-id {instance_id} "
            "--backend-options latency_ms=400",
        ],
        nginx=NginxSettings(
            version="1.22.1",
            balance="least_conn",
            directives={
                "upstream": "least_conn; keepalive 32",
                "proxy_next_upstream": "error timeout http_503",
                "proxy_read_timeout": "300s",
                "max_fails": "1",
                "fail_timeout": "5s",
            },
            rationale="least_conn sends each generation to the backend with the fewest in "
            "flight, which matters when generations differ in length; a refused connection "
            "is retried on the next backend.",
        ),
        share=BackendShare(
            requests=requests,
            share=shares,
            max_deviation=max(abs(s - 1 / 3) for s in shares.values()),
            unattributed=0,
            run=share_run,
        ),
        scaling=[
            ScalingPoint(backends=n, ok_rps=rps, efficiency=rps / (n * 7.9), latency=None)
            for n, rps in ((1, 7.9), (2, 15.1), (3, 21.6))
        ],
        failover=failover,
        slow_backend=SlowBackendResult(
            slow_backend="ref-3",
            slowdown=4.0,
            by_policy={
                "round_robin": _lb_summary(9.0, 20.0, start + 90, 33, backends),
                "least_conn": _lb_summary(9.0, 20.0, start + 115, 34, backends),
            },
        ),
    )


def selfcheck_report() -> SelfCheckReport:
    start = START.timestamp() + 1800
    return SelfCheckReport(
        provenance=_provenance(
            "measurements.selfcheck",
            "http://127.0.0.1:8490",
            start,
            start + 45,
            health={"status": "healthy", "model": "null", "device": "none"},
            command=["python", "-m", "measurements.selfcheck"],
            scenario=None,
        ),
        null_provider="testkit.testing_provider (fixed:0)",
        wrk_rps=9120.0,
        clients={
            "openloop-closed": {"rps": 2410.0, "cpu": 0.98, "ratio_to_wrk": 0.26},
            "locust-fasthttp": {"rps": 1830.0, "cpu": 0.99, "ratio_to_wrk": 0.2},
        },
        schedule_accuracy=[
            {"target_rps": 100.0, "achieved_rps": 99.6, "ratio": 0.996, "queue_p99_ms": 1.8}
        ],
        provisional=True,
    )


def stall_comparison() -> StallComparison:
    start = START.timestamp() + 1900
    open_loop = summarize(
        _records(10.0, 20.0, start, median_ms=40.0, capacity=100.0, seed=41, served_by=["stall"]),
        20.0,
    )
    closed = summarize(
        _records(10.0, 20.0, start, median_ms=40.0, capacity=100.0, seed=42, served_by=["stall"]),
        20.0,
    )
    return StallComparison(
        provenance=_provenance(
            "measurements.coordinated_omission",
            "http://127.0.0.1:8491",
            start,
            start + 50,
            health={"status": "healthy", "model": "stall", "device": "none"},
            command=["python", "-m", "measurements.coordinated_omission"],
        ),
        stall_s=2.0,
        stall_at_s=8.0,
        service="testing provider",
        affected_threshold_ms=500.0,
        observations=[
            StallObservation(
                generator="open-loop",
                description="10/s Poisson schedule",
                summary=open_loop,
                affected=21,
                server_held=20,
            ),
            StallObservation(
                generator="closed-loop",
                description="4 loops, paced to 10/s",
                summary=closed,
                affected=4,
                server_held=20,
            ),
        ],
    )


def environment(role: str) -> EnvironmentSnapshot:
    provider = role == "provider"
    return EnvironmentSnapshot(
        kit_version="0.2.0",
        captured_at=START - timedelta(minutes=1),
        role="server",
        hostname=PROVIDER_HOST if provider else CLIENT_HOST,
        os="Linux-6.8.0-52-generic-x86_64-with-glibc2.39" if provider else _client().os,
        python="3.11.11" if provider else "3.11.7",
        cpu_model="Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz" if provider else _client().cpu_model,
        cpu_count=32 if provider else 16,
        memory_gib=251.5 if provider else 30.6,
        gpus=[GpuInfo(name="NVIDIA L4", memory_mib=23034, driver="550.127.05")] if provider else [],
        gpu_source="nvidia-smi" if provider else "no nvidia-smi on PATH",
        packages={
            "voicebox-provider-kit": "0.2.0",
            "torch": "2.6.0+cu124" if provider else "2.13.0+cpu",
            "qwen-tts": "0.1.1" if provider else None,
            "numpy": "2.2.1",
            "fastapi": "0.115.6",
        },
    )


def documents() -> dict[str, Any]:
    base = START.timestamp()
    return {
        "conformance-provider.json": conformance_record("provider"),
        "conformance-reference.json": conformance_record("reference"),
        "run-provider-1.json": run_result("provider", 1.0, 20.0, start=base + 120, seed=1),
        "run-provider-2.json": run_result("provider", 2.0, 20.0, start=base + 150, seed=2),
        "run-provider-4.json": run_result("provider", 4.0, 20.0, start=base + 180, seed=3),
        "run-provider-8.json": run_result("provider", 8.0, 8.0, start=base + 210, seed=4),
        "run-reference-2.json": run_result("reference", 2.0, 20.0, start=base + 700, seed=2),
        "loadbalance.json": loadbalance_report(),
        "selfcheck.json": selfcheck_report(),
        "stall-comparison.json": stall_comparison(),
        "environment-provider.json": environment("provider"),
        "environment-reference.json": environment("reference"),
    }


def write(directory: Path = FIXTURES) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents().items():
        path = directory / name
        tree = document.model_dump(mode="json")
        path.write_text(
            json.dumps(tree, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8"
        )
        written.append(path)
    return written


if __name__ == "__main__":
    for written in write():
        print(written)
