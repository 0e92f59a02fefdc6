"""Real-time factor of the espeak backend: seconds of compute per second of audio.

    python -m measurements.espeak_rtf [--repeats 7]

Prints medians for espeak-ng alone (the fork server's round trip), for the whole backend
(synthesis, equaliser, vari-speed) and for voice-prompt creation. Figures from a shared or
throttled machine are provisional; compare only runs made on the same machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

from conformance.engine.references import reference_voices
from reference_server.backends.base import GenerateJob
from reference_server.backends.espeak import EspeakBackend, SynthesisRequest, synthesize

TEXTS = {
    "short": "Thank you, see you tomorrow.",
    "medium": "I usually take the bus to work in the morning, and on the way I read the news.",
    "long": (
        "The kitchen clock said half past seven when the phone rang. My neighbour asked "
        "whether I could water her plants while she was away, and I said I would be happy to "
        "help. Later we walked the dog along the river and talked about the weekend, the "
        "weather, and the new bakery that opened next to the station."
    ),
}


def _median_seconds(action: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="espeak backend real-time factor")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    backend = EspeakBackend()
    voice_a, voice_b = reference_voices()
    print(
        f"{backend.model}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    prompt_seconds = _median_seconds(
        lambda: backend.create_voice_prompt(voice_a.samples, voice_a.sample_rate, ""),
        args.repeats,
    )
    print(
        f"create_voice_prompt, {voice_a.duration_s:.1f} s reference: "
        f"median {prompt_seconds * 1000:.1f} ms"
    )

    voice = backend.parse_voice_prompt(
        backend.create_voice_prompt(voice_b.samples, voice_b.sample_rate, "")
    )
    print(f"{'text':8s} {'audio s':>8s} {'espeak RTF':>11s} {'backend RTF':>12s}")
    for label, text in TEXTS.items():
        job = GenerateJob(text=text, voice=voice, language="en", seed=1)
        (result,) = backend.generate([job])
        audio_seconds = result.samples.size / result.sample_rate
        request = SynthesisRequest(
            text=text, voice="en-us+aunty", rate=175, pitch=50, range=50, seed=1
        )
        engine = _median_seconds(partial(synthesize, request), args.repeats)
        whole = _median_seconds(partial(backend.generate, [job]), args.repeats)
        print(
            f"{label:8s} {audio_seconds:8.2f} {engine / audio_seconds:11.4f} "
            f"{whole / audio_seconds:12.4f}"
        )
    backend.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
