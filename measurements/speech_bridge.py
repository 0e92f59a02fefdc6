"""What the openai-speech bridge costs, and what a conformance run of the speech endpoint costs.

Two reference servers on loopback, each a fresh ``python -m reference_server`` (espeak):

* **direct**: the reference server's own ``/v1/generate``;
* **bridged**: a second server with ``--backend openai-speech`` in front of the first one's
  ``/v1/audio/speech``; its ``/v1/generate`` becomes one upstream request with the prompt's
  recording as a ``ref_audio`` data URL.

Requests go one at a time (c = 1), alternating direct and bridged with the same texts and seeds,
so that both see the same machine load. Reported: p50 latency of each and their ratio, and for
streaming (``/v1/audio/speech`` with ``stream=true``, ``response_format=pcm``, a text of three
sentences) the p50 time to the first PCM byte (TTFP) of each, their ratio, and the p50 time to
the stream's last byte: espeak streams sentence by sentence, so TTFP is about a third of it.

Then the SPEECH-* clauses alone, as a user runs them (``pytest --speech-url URL/v1``), against
the direct server: wall time and requests.

    python -m measurements.speech_bridge [--iterations 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from conformance import ConformanceRecord
from orchestration.processes import ReferenceServerProcess

__all__ = ["BridgeReport", "main"]

_ROOT = Path(__file__).resolve().parent.parent
_TEXTS = (
    "The weather is nice today, so we are going for a walk in the park.",
    "Please call me back when you have a moment this afternoon.",
    "The train to the city leaves from platform four in ten minutes.",
)
_STREAM_TEXT = (
    "The weather is nice today. We are going for a walk in the park. "
    "Please call me back when you have a moment this afternoon."
)
_REFERENCE = _ROOT / "conformance" / "data" / "voice_a.flac"


@dataclass(frozen=True)
class BridgeReport:
    iterations: int
    direct_p50_ms: float
    bridged_p50_ms: float
    latency_ratio: float
    direct_ttfp_p50_ms: float
    bridged_ttfp_p50_ms: float
    ttfp_ratio: float
    direct_stream_total_p50_ms: float
    bridged_stream_total_p50_ms: float
    speech_suite_wall_s: float
    speech_suite_requests: int
    speech_suite_by_endpoint: dict[str, int]
    speech_suite_verdicts: dict[str, int]


def _prompt(client: httpx.Client) -> dict[str, object]:
    response = client.post(
        "/v1/create_voice_prompt",
        files={"audio": ("a.flac", _REFERENCE.read_bytes(), "audio/flac")},
        data={"reference_text": "I usually take the bus to work in the morning."},
    )
    response.raise_for_status()
    prompt: dict[str, object] = response.json()["voice_prompt"]
    return prompt


def _generate(client: httpx.Client, prompt: dict[str, object], text: str, seed: int) -> float:
    started = time.perf_counter()
    response = client.post(
        "/v1/generate", json={"text": text, "voice_prompt": prompt, "seed": seed}
    )
    response.raise_for_status()
    return time.perf_counter() - started


def _ttfp(client: httpx.Client, text: str, seed: int) -> tuple[float, float]:
    """Seconds to the first PCM byte and to the last."""
    body = {
        "model": "tts-1",
        "input": text,
        "voice": "alloy",
        "response_format": "pcm",
        "stream": True,
        "stream_format": "audio",
        "seed": seed,
    }
    started = time.perf_counter()
    with client.stream("POST", "/v1/audio/speech", json=body) as response:
        response.raise_for_status()
        first: float | None = None
        for chunk in response.iter_bytes():
            if chunk and first is None:
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("the stream had no audio")
    return first, time.perf_counter() - started


def _p50(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def _speech_suite(url: str) -> tuple[float, int, dict[str, int], dict[str, int]]:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TTS_", "WHISPER_"))}
        env["PYTHONPATH"] = str(_ROOT)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--speech-url", f"{url}/v1", "--conformance-report", str(report)],
            cwd=scratch, env=env, capture_output=True, text=True, check=False, timeout=900,
        )  # fmt: skip
        wall = time.perf_counter() - started
        record = ConformanceRecord.model_validate_json((report / "conformance.json").read_text())
    verdicts = {v.value: n for v, n in record.summary.items() if n}
    return round(wall, 1), record.requests.total, dict(record.requests.by_endpoint), verdicts


def measure(iterations: int) -> BridgeReport:
    with ReferenceServerProcess("--whisper", "none") as upstream:
        options = f"upstream={upstream.base_url}/v1,deterministic=true"
        bridge_args = ("--backend", "openai-speech", "--backend-options", options)
        with (
            ReferenceServerProcess(*bridge_args, "--whisper", "none") as bridge,
            httpx.Client(base_url=upstream.base_url, timeout=120) as direct,
            httpx.Client(base_url=bridge.base_url, timeout=120) as bridged,
        ):
            prompts = {"direct": _prompt(direct), "bridged": _prompt(bridged)}
            latency: dict[str, list[float]] = {"direct": [], "bridged": []}
            ttfp: dict[str, list[float]] = {"direct": [], "bridged": []}
            total: dict[str, list[float]] = {"direct": [], "bridged": []}
            clients = {"direct": direct, "bridged": bridged}
            for name, client in clients.items():  # warm up both paths once
                _generate(client, prompts[name], _TEXTS[0], 0)
                _ttfp(client, _TEXTS[0], 0)
            for i in range(iterations):
                text, seed = _TEXTS[i % len(_TEXTS)], 100 + i
                for name, client in clients.items():
                    latency[name].append(_generate(client, prompts[name], text, seed) * 1000)
                    first, last = _ttfp(client, _STREAM_TEXT, seed)
                    ttfp[name].append(first * 1000)
                    total[name].append(last * 1000)
        wall, requests, by_endpoint, verdicts = _speech_suite(upstream.base_url)
    direct_p50, bridged_p50 = _p50(latency["direct"]), _p50(latency["bridged"])
    direct_ttfp, bridged_ttfp = _p50(ttfp["direct"]), _p50(ttfp["bridged"])
    return BridgeReport(
        iterations=iterations,
        direct_p50_ms=direct_p50,
        bridged_p50_ms=bridged_p50,
        latency_ratio=round(bridged_p50 / direct_p50, 2),
        direct_ttfp_p50_ms=direct_ttfp,
        bridged_ttfp_p50_ms=bridged_ttfp,
        ttfp_ratio=round(bridged_ttfp / direct_ttfp, 2),
        direct_stream_total_p50_ms=_p50(total["direct"]),
        bridged_stream_total_p50_ms=_p50(total["bridged"]),
        speech_suite_wall_s=wall,
        speech_suite_requests=requests,
        speech_suite_by_endpoint=by_endpoint,
        speech_suite_verdicts=verdicts,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)
    report = measure(options.iterations)
    for name, value in asdict(report).items():
        print(f"{name:<28} {value}")
    if options.json:
        options.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
