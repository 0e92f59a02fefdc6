"""What the serving layer costs per ``/v1/generate``, against calling the backend directly.

Each iteration times, back to back:

* **direct**: ``SyntheticBackend().generate([job])`` in this process, for about 5 s of 24 kHz
  float32 audio (the synthetic backend, no latency);
* **HTTP**: the same request to a reference server subprocess on loopback, from sending the JSON
  to a decoded, checked numpy array (server parsing, queue hop, the same generation, base64 and
  JSON, the transfer, and the client's codec).

The overhead is HTTP minus direct, paired per iteration; the script prints its median and p95,
and the server's own ``Server-Timing`` split (queue, inference, app). Target: median < 5 ms.

    python -m measurements.server_overhead [--iterations 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

from orchestration.processes import ReferenceServerProcess
from reference_server.backends.base import GenerateJob
from reference_server.backends.synthetic import CHAR_SECONDS, EDGE_SECONDS, SyntheticBackend
from voicebox_api import GenerateResponse, decode_response

__all__ = ["OverheadReport", "main", "measure"]

_WORDS = "the quick brown fox jumps over a lazy dog while five boxing wizards jump quickly "
TARGET_MS = 5.0


@dataclass(frozen=True)
class OverheadReport:
    """Medians and p95s in milliseconds."""

    iterations: int
    audio_seconds: float
    response_bytes: int
    direct_median_ms: float
    http_median_ms: float
    overhead_median_ms: float
    """HTTP round trip with decoding, minus the direct call of the same iteration."""
    overhead_p95_ms: float
    serving_median_ms: float
    """HTTP round trip with decoding, minus the generation time the server itself measured:
    the same overhead, without the noise of the backend running slower in the server."""
    serving_p95_ms: float
    client_decode_median_ms: float
    server_encode_median_ms: float
    server_handling_median_ms: float
    """Server-Timing app minus queue, inference and encode: parsing, hand-offs, the response."""
    transport_median_ms: float
    """Round trip to bytes minus Server-Timing app: HTTP on loopback, both ends."""


def text_for(seconds: float) -> str:
    """Text the synthetic backend speaks in about ``seconds``."""
    chars = max(1, round((seconds - 2 * EDGE_SECONDS) / CHAR_SECONDS))
    return (_WORDS * (chars // len(_WORDS) + 1))[:chars].strip()


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _timings(header: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for entry in header.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            if param.startswith("dur="):
                found[name] = float(param[4:])
    return found


def measure(base_url: str, *, iterations: int, warmup: int, seconds: float) -> OverheadReport:
    backend = SyntheticBackend()
    text = text_for(seconds)
    reference = backend.create_voice_prompt(_tone(140.0), 24_000, "")
    job = GenerateJob(text=text, voice=backend.parse_voice_prompt(reference), language="en", seed=7)
    body = {"text": text, "voice_prompt": reference, "language": "en", "seed": 7}
    samples: dict[str, list[float]] = {}
    size, audio_seconds = 0, 0.0
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for index in range(warmup + iterations):
            started = time.perf_counter()
            expected = backend.generate([job])[0]
            direct = time.perf_counter() - started
            started = time.perf_counter()
            response = client.post("/v1/generate", json=body)
            response.raise_for_status()
            received = time.perf_counter()
            decoded = decode_response(GenerateResponse.model_validate_json(response.content))
            finished = time.perf_counter()
            if decoded.samples.tobytes() != expected.samples.tobytes():
                raise RuntimeError("the server's audio differs from the direct call's")
            if index < warmup:
                continue
            server = _timings(response.headers.get("server-timing", ""))
            rows = {
                "direct": direct * 1000,
                "http": (finished - started) * 1000,
                "decode": (finished - received) * 1000,
                "encode": server["encode"],
                "handling": server["app"]
                - server["queue"]
                - server["inference"]
                - server["encode"],
                "transport": (received - started) * 1000 - server["app"],
                "overhead": (finished - started - direct) * 1000,
                "serving": (finished - started) * 1000 - server["inference"],
            }
            for name, value in rows.items():
                samples.setdefault(name, []).append(value)
            size, audio_seconds = len(response.content), decoded.duration_s

    def median(name: str) -> float:
        return round(statistics.median(samples[name]), 3)

    def p95(name: str) -> float:
        return round(_percentile(samples[name], 0.95), 3)

    return OverheadReport(
        iterations=iterations,
        audio_seconds=round(audio_seconds, 3),
        response_bytes=size,
        direct_median_ms=median("direct"),
        http_median_ms=median("http"),
        overhead_median_ms=median("overhead"),
        overhead_p95_ms=p95("overhead"),
        serving_median_ms=median("serving"),
        serving_p95_ms=p95("serving"),
        client_decode_median_ms=median("decode"),
        server_encode_median_ms=median("encode"),
        server_handling_median_ms=median("handling"),
        transport_median_ms=median("transport"),
    )


def _tone(frequency: float, seconds: float = 1.0) -> npt.NDArray[np.float32]:
    t = np.arange(int(seconds * 24_000)) / 24_000
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0, help="audio per request")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    server_args = (
        "--backend", "synthetic", "--whisper", "none", "--cache-bytes", "0",
        "--access-log", "false", "--log-level", "warning",
    )  # fmt: skip
    with ReferenceServerProcess(*server_args) as server:
        report = measure(
            server.base_url, iterations=args.iterations, warmup=args.warmup, seconds=args.seconds
        )
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return 0


def _print(report: OverheadReport) -> None:
    verdict = "meets" if report.overhead_median_ms < TARGET_MS else "MISSES"
    print(
        f"server overhead, {report.audio_seconds:.2f} s of 24 kHz float32 per request "
        f"({report.response_bytes} response bytes), {report.iterations} iterations"
    )
    print(f"  direct backend call            median {report.direct_median_ms:7.2f} ms")
    print(f"  HTTP round trip with decoding  median {report.http_median_ms:7.2f} ms")
    print(
        f"  overhead (HTTP - direct)       median {report.overhead_median_ms:7.2f} ms  "
        f"p95 {report.overhead_p95_ms:.2f} ms  ({verdict} the {TARGET_MS:g} ms median target)"
    )
    print(
        f"  overhead (HTTP - server's own inference time)  median "
        f"{report.serving_median_ms:.2f} ms  p95 {report.serving_p95_ms:.2f} ms"
    )
    print(
        f"  of which (medians): server encode {report.server_encode_median_ms:.2f} ms, "
        f"server handling {report.server_handling_median_ms:.2f} ms, "
        f"transport {report.transport_median_ms:.2f} ms, "
        f"client decode {report.client_decode_median_ms:.2f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
