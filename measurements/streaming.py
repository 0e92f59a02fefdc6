"""Streaming figures of the kit (SPEC.md §14), in one run on this machine.

1. **Reference server, espeak**, a text of about 200 characters (four sentences): TTFP p50 and
   p99, and TTFP as a fraction of the stream's total time, at concurrency 1 and 8 (closed loop).
2. **Harness accuracy**: the streaming client's TTFP against the test provider's own record of
   when its first audio frame left, with an injected first-frame delay and a mid-stream stall;
   the share of requests within 2 ms + 5 %, and the stall the player model finds on both sides.
3. **Binary against base64 JSON** for 5 s of audio: the HTTP and codec overhead of each answer
   (round trip to a decoded array, minus the backend's own call in this process), medians.
4. **Client capacity**: streams per second that the open-loop runner (closed mode, httpx) and
   Locust's FastHttpUser drive in turn against one test provider, with 32 connections each.

    python -m measurements.streaming [--json measurements/results/streaming.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from benchmarks.locustrun import run_locust
from benchmarks.openloop import LoadConfig, run_load
from benchmarks.scenarios import ScenarioSettings, load_corpus, tone_reference
from benchmarks.stats import summarize
from benchmarks.streaming import playback_underruns, run_streams, summarize_streams
from conformance.engine.references import reference_voices
from measurements.server_overhead import text_for
from orchestration.processes import ReferenceServerProcess
from reference_server.backends.base import GenerateJob
from reference_server.backends.synthetic import SyntheticBackend
from testkit.testing_provider import PROMPT_MARK, launch, server_log
from voicebox_api import (
    WAV_MEDIA_TYPE,
    GenerateResponse,
    ProviderClient,
    decode_response,
    decode_wav,
    write_audio,
)

__all__ = ["main"]

TEXT = (
    "The train left the station at noon and crossed the river by the old mill. "
    "Then it climbed slowly into the hills. Snow still lay on the highest fields. "
    "At dusk it reached the town."
)
QUIET = (
    "--whisper", "none", "--cache-bytes", "0", "--access-log", "false", "--log-level", "warning",
)  # fmt: skip


def espeak_ttfp(requests_c1: int, requests_c8: int) -> dict[str, Any]:
    with ReferenceServerProcess("--backend", "espeak", *QUIET) as server:
        reference = reference_voices()[0]
        with ProviderClient(server.base_url) as client:
            wav = write_audio(reference.samples, reference.sample_rate)
            prompt = client.create_voice_prompt(wav, reference.text).voice_prompt
        body = {"text": TEXT, "voice_prompt": prompt, "language": "en", "seed": 1}
        asyncio.run(run_streams(server.base_url, body, requests=3, concurrency=1))  # warm up
        figures: dict[str, Any] = {"text_characters": len(TEXT)}
        for concurrency, count in ((1, requests_c1), (8, requests_c8)):
            records, wall = asyncio.run(
                run_streams(server.base_url, body, requests=count, concurrency=concurrency)
            )
            summary = summarize_streams(records, wall)
            figures[f"c{concurrency}"] = {
                "requests": summary.requests,
                "ok": summary.ok,
                "ttfp_p50_ms": _get(summary.ttfp_ms, "p50"),
                "ttfp_p99_ms": _get(summary.ttfp_ms, "p99"),
                "total_p50_ms": _get(summary.total_ms, "p50"),
                "ttfp_fraction_p50": _get(summary.ttfp_fraction, "p50"),
                "ttfp_fraction_p99": _get(summary.ttfp_fraction, "p99"),
                "gap_p99_ms": _get(summary.gap_ms, "p99"),
                "underrun_requests": summary.underrun_requests,
                "rtf_p50": _get(summary.rtf, "p50"),
                "audio_s_per_s": summary.audio_s_per_s,
            }
    return figures


def harness_accuracy(requests: int) -> dict[str, Any]:
    provider = (
        "--service", "fixed:30", "--stream-first-ms", "40", "--stream-chunks", "6",
        "--stream-chunk-ms", "10", "--stream-stall-after", "2", "--stream-stall-ms", "150",
    )  # fmt: skip
    body = {"text": "Hello", "voice_prompt": {"provider": PROMPT_MARK}, "seed": 1}
    with tempfile.TemporaryDirectory() as workdir, launch(Path(workdir), *provider) as (url, _):
        records, _wall = asyncio.run(run_streams(url, body, requests=requests, concurrency=1))
        truth = [e for e in server_log(url) if e["path"] == "/v1/generate"]
    errors, within, stalls = [], 0, []
    for record, entry in zip(records, truth, strict=True):
        server_first = entry["frames_ms"][0]
        client_first = (record.ttfp_s or 0.0) * 1000
        errors.append(client_first - server_first)
        within += abs(client_first - server_first) <= 2.0 + 0.05 * server_first
        frames = [ms / 1000 for ms in entry["frames_ms"]]
        expected = playback_underruns(frames, record.samples, record.sample_rate)
        measured = playback_underruns(record.arrivals, record.samples, record.sample_rate)
        stalls.append((measured.stall_s - expected.stall_s) * 1000)
    return {
        "requests": len(records),
        "ttfp_error_median_ms": round(statistics.median(errors), 3),
        "ttfp_error_max_ms": round(max(errors), 3),
        "ttfp_within_2ms_5pct": round(within / len(records), 3),
        "stall_error_median_ms": round(statistics.median(stalls), 3),
    }


def binary_against_json(iterations: int, seconds: float = 5.0) -> dict[str, Any]:
    backend = SyntheticBackend()
    text = text_for(seconds)
    tone = reference_voices()[0]
    prompt = backend.create_voice_prompt(tone.samples, tone.sample_rate, "")
    job = GenerateJob(text=text, voice=backend.parse_voice_prompt(prompt), language="en", seed=7)
    body = {"text": text, "voice_prompt": prompt, "language": "en", "seed": 7}
    rows: dict[str, list[float]] = {"json": [], "wav": []}
    sizes: dict[str, int] = {}
    with (
        ReferenceServerProcess("--backend", "synthetic", *QUIET) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as client,
    ):
        for index in range(iterations + 10):
            for kind in ("json", "wav"):
                started = time.perf_counter()
                expected = backend.generate([job])[0]
                direct = time.perf_counter() - started
                headers = {"Accept": WAV_MEDIA_TYPE} if kind == "wav" else {}
                started = time.perf_counter()
                response = client.post("/v1/generate", json=body, headers=headers)
                response.raise_for_status()
                decoded = (
                    decode_wav(response.content)
                    if kind == "wav"
                    else decode_response(GenerateResponse.model_validate_json(response.content))
                )
                finished = time.perf_counter()
                if decoded.samples.tobytes() != expected.samples.tobytes():
                    raise RuntimeError(f"the {kind} answer differs from the direct call")
                if index >= 10:
                    rows[kind].append((finished - started - direct) * 1000)
                sizes[kind] = len(response.content)
    return {
        "audio_seconds": round(expected.samples.size / expected.sample_rate, 3),
        "iterations": iterations,
        "json_bytes": sizes["json"],
        "wav_bytes": sizes["wav"],
        "json_overhead_median_ms": round(statistics.median(rows["json"]), 3),
        "wav_overhead_median_ms": round(statistics.median(rows["wav"]), 3),
    }


def client_capacity(seconds: float, connections: int) -> dict[str, Any]:
    """Streams per second and per client core that the open-loop runner (closed mode) and
    Locust's FastHttpUser drive against one test provider streaming 8 frames at once."""
    provider = ("--service", "fixed:0", "--stream-chunks", "8", "--stream-chunk-ms", "0")
    settings = ScenarioSettings(
        scenario="generate", texts=tuple(load_corpus()), references=(tone_reference(),)
    )
    with tempfile.TemporaryDirectory() as workdir, launch(Path(workdir), *provider) as (url, _):
        load = LoadConfig(
            host=url, mode="closed", rate=0.0, duration_s=seconds, concurrency=connections
        )
        outcome = asyncio.run(run_load(load, replace(settings, stream=True), check_fraction=0.0))
        ours = summarize(outcome.records, seconds)
        run = run_locust(
            url,
            Path(workdir) / "locust",
            users=connections,
            run_time_s=seconds,
            stop_timeout_s=2,
            extra=["--stream", "--check-fraction", "0"],
        )
        theirs = run.result.summary
        locust_cpu = float(max(run.result.config.client_cpu_by_process or [0.0]))
    ours_rps = ours.by_operation["generate"].ok / seconds if "generate" in ours.by_operation else 0
    theirs_rps = (
        theirs.by_operation["generate"].ok / seconds if "generate" in theirs.by_operation else 0
    )
    return {
        "seconds": seconds,
        "connections": connections,
        "openloop_streams_per_s": round(ours_rps, 1),
        "openloop_client_cpu": round(outcome.client_cpu, 3),
        "locust_streams_per_s": round(theirs_rps, 1),
        "locust_client_cpu": round(locust_cpu, 3),
        "ratio": round(ours_rps / theirs_rps, 3) if theirs_rps else None,
        "openloop_ttfp_p50_ms": _get(ours.ttfp.model_dump() if ours.ttfp else None, "p50"),
        "locust_ttfp_p50_ms": _get(theirs.ttfp.model_dump() if theirs.ttfp else None, "p50"),
    }


def _get(distribution: dict[str, Any] | None, key: str) -> float | None:
    if distribution is None:
        return None
    value = distribution.get(key)
    return None if value is None else round(float(value), 3)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=40, help="streams at concurrency 1")
    parser.add_argument("--iterations", type=int, default=100, help="binary/JSON pairs")
    parser.add_argument("--capacity-seconds", type=float, default=8.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = {
        "espeak": espeak_ttfp(args.requests, 2 * args.requests),
        "harness_accuracy": harness_accuracy(args.requests),
        "binary_vs_json": binary_against_json(args.iterations),
        "client_capacity": client_capacity(args.capacity_seconds, 32),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
