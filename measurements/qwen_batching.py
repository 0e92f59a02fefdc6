"""How much does batching help Qwen3-TTS? Latency and throughput at batch sizes 1, 2, 4, 8.

Run from the repository root::

    python -m measurements.qwen_batching --checkpoint tiny --device cpu
    python -m measurements.qwen_batching --checkpoint Qwen/Qwen3-TTS-12Hz-1.7B-Base --device cuda
    python -m measurements.qwen_batching --checkpoint /models/Qwen3-TTS-0.6B --json out.json

Each measurement is one ``QwenBackend.generate`` call with ``B`` unseeded jobs (the only jobs the
backend batches), all the same text, which qwen_tts runs as one batched generation and one
batched decode. Every request of a batch finishes when the batch does, so the per-request latency
is the call's wall time. Throughput is given two ways: requests per second, and seconds of audio
produced per second of wall time (the inverse real-time factor), which does not depend on how
early each clip happened to sample its end token. ``--checkpoint tiny`` builds the tiny random
model of ``testkit.qwen_tiny`` in a temporary directory: it measures the
machinery (Python, generation loop, decode), not a real model's arithmetic.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from reference_server.backends.base import GenerateJob
from reference_server.backends.qwen import QwenBackend
from testkit.qwen_tiny import build_tiny_checkpoint
from voicebox_api import read_audio

DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog, then naps in the afternoon sun."
DEFAULT_REFERENCE_TEXT = "This is a short reference recording for voice cloning."
_SAMPLE_RATE = 24000


@dataclass(frozen=True)
class BatchResult:
    batch_size: int
    latency_s_median: float
    latency_s_min: float
    latency_s_max: float
    requests_per_s: float
    audio_s_per_s: float
    mean_clip_s: float
    peak_gpu_memory_mib: float | None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="qwen-bench-") as scratch:
        checkpoint = _checkpoint(args.checkpoint, Path(scratch))
        backend = QwenBackend.load(
            checkpoint,
            device=args.device,
            dtype=args.dtype,
            attn_implementation=args.attn_implementation,
            max_batch_size=max(args.batch_sizes),
            model_name="tiny (random weights)" if args.checkpoint == "tiny" else None,
        )
        try:
            reference, rate, transcript, source = _reference(args, Path(scratch))
            voice = backend.parse_voice_prompt(
                backend.create_voice_prompt(reference, rate, transcript)
            )
            conditions = _conditions(args, backend, source, transcript)
            _print_conditions(conditions)
            results = _measure(backend, voice, args)
        finally:
            backend.close()
    _print_results(results)
    if args.json:
        document = {"conditions": conditions, "results": [asdict(r) for r in results]}
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m measurements.qwen_batching",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--checkpoint", required=True, help="model directory, hub id, or 'tiny' (built here)")
    add("--device", default="auto", help="cpu, cuda, cuda:N, rocm[:N] or auto (default)")
    add("--dtype", default="auto", help="auto (default), bfloat16, float16 or float32")
    add("--attn-implementation", default=None, help="e.g. sdpa, flash_attention_2")
    add("--batch-sizes", type=_sizes, default=[1, 2, 4, 8], help="default 1,2,4,8")
    add("--repeats", type=int, default=3, help="timed calls per batch size (default 3)")
    add("--warmup", type=int, default=1, help="untimed calls first, per size extreme (default 1)")
    add("--text", default=DEFAULT_TEXT, help="the text every request speaks")
    add("--language", default="en", help="ISO 639-1 code of --text (default en)")
    add("--reference", default=None, help="reference audio file (default: flite, else synthetic)")
    add("--reference-text", default=None, help="transcript of --reference (ICL mode when given)")
    add("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    add("--json", default=None, help="also write conditions and results to this JSON file")
    return parser


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("batch sizes are positive integers, e.g. 1,2,4,8")
    return sizes


def _checkpoint(name: str, scratch: Path) -> str | Path:
    if name != "tiny":
        return name
    return build_tiny_checkpoint(scratch / "tiny-qwen3-tts")


def _reference(
    args: argparse.Namespace, scratch: Path
) -> tuple[npt.NDArray[np.float32], int, str, str]:
    """Reference audio, its transcript ("" for x-vector mode) and where it came from."""
    if args.reference:
        audio, rate = read_audio(Path(args.reference).read_bytes())
        return audio, rate, args.reference_text or "", "file"
    flite = shutil.which("flite")
    if flite is not None:
        path = scratch / "reference.wav"
        subprocess.run(
            [flite, "-t", DEFAULT_REFERENCE_TEXT, "-o", str(path)], check=True, timeout=60
        )
        audio, rate = read_audio(path.read_bytes())
        return audio, rate, DEFAULT_REFERENCE_TEXT, "flite"
    return _synthetic_voice(3.0), _SAMPLE_RATE, "", "synthetic (x-vector mode)"


def _synthetic_voice(seconds: float) -> npt.NDArray[np.float32]:
    t = np.arange(int(seconds * _SAMPLE_RATE)) / _SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(120 * (1 + 0.2 * np.sin(2 * np.pi * 0.7 * t))) / _SAMPLE_RATE
    buzz = sum(np.sin(k * phase) / k for k in range(1, 12))
    return (0.15 * buzz * 0.5 * (1 + np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def _measure(backend: QwenBackend, voice: Any, args: argparse.Namespace) -> list[BatchResult]:
    def jobs(size: int) -> list[GenerateJob]:
        return [GenerateJob(args.text, voice, args.language, None) for _ in range(size)]

    for size in {args.batch_sizes[0], args.batch_sizes[-1]}:
        for _ in range(args.warmup):
            backend.generate(jobs(size))
    results = []
    for size in args.batch_sizes:
        if backend.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(backend.device)
        latencies, audio_seconds = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            syntheses = backend.generate(jobs(size))
            latencies.append(time.perf_counter() - started)
            audio_seconds.append(sum(s.samples.size / s.sample_rate for s in syntheses))
        results.append(_summary(size, latencies, audio_seconds, backend.device))
        print(f"  batch {size}: median {results[-1].latency_s_median:.3f} s", file=sys.stderr)
    return results


def _summary(
    size: int, latencies: list[float], audio_seconds: list[float], device: str
) -> BatchResult:
    total_wall = sum(latencies)
    peak = None
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    return BatchResult(
        batch_size=size,
        latency_s_median=statistics.median(latencies),
        latency_s_min=min(latencies),
        latency_s_max=max(latencies),
        requests_per_s=size * len(latencies) / total_wall,
        audio_s_per_s=sum(audio_seconds) / total_wall,
        mean_clip_s=sum(audio_seconds) / (size * len(latencies)),
        peak_gpu_memory_mib=peak,
    )


def _conditions(
    args: argparse.Namespace, backend: QwenBackend, source: str, transcript: str
) -> dict[str, Any]:
    device_name = "cpu: " + (platform.processor() or platform.machine())
    if backend.device.startswith("cuda"):
        device_name = torch.cuda.get_device_name(backend.device)
    return {
        "model": backend.model,
        "device": backend.device,
        "device_name": device_name,
        "dtype": backend.dtype,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "text_characters": len(args.text),
        "max_new_tokens": backend.max_new_tokens([args.text]),
        "language": args.language,
        "reference": source,
        "voice_mode": "icl" if transcript else "x-vector",
        "repeats": args.repeats,
        "warmup": args.warmup,
    }


def _print_conditions(conditions: dict[str, Any]) -> None:
    print("Qwen3-TTS batching benchmark")
    for key, value in conditions.items():
        print(f"  {key:16} {value}")
    print()


def _print_results(results: list[BatchResult]) -> None:
    base = results[0]
    print()
    print(
        f"{'batch':>5}  {'latency/request s (median, min-max)':>36}  {'requests/s':>10}  "
        f"{'audio s/s':>9}  {'speed-up':>8}  {'clip s':>6}  {'GPU MiB':>8}"
    )
    for result in results:
        spread = f"{result.latency_s_min:.3f}-{result.latency_s_max:.3f}"
        memory = "-" if result.peak_gpu_memory_mib is None else f"{result.peak_gpu_memory_mib:.0f}"
        print(
            f"{result.batch_size:>5}  {result.latency_s_median:>12.3f} ({spread:>21})  "
            f"{result.requests_per_s:>10.2f}  {result.audio_s_per_s:>9.2f}  "
            f"{result.audio_s_per_s / base.audio_s_per_s:>7.2f}x  {result.mean_clip_s:>6.2f}  "
            f"{memory:>8}"
        )
    print(
        f"\nspeed-up: audio seconds per wall second relative to batch {base.batch_size}; "
        "latency/request is the whole batch's wall time."
    )


if __name__ == "__main__":
    raise SystemExit(main())
