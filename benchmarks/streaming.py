"""Streaming generation under load (SPEC.md §14): time to first packet and playback stalls.

Each request asks ``/v1/generate`` for a stream (``Accept: application/vnd.voicebox.pcm-stream``)
and records when every audio frame arrived. From those arrivals:

- **TTFP**, time to first audio packet, from the request's *intended* send time (open loop: a
  late client does not hide server delay);
- **gaps** between consecutive audio frames;
- **underruns**: a player that starts at the first packet and plays in real time stalls whenever
  a frame arrives after the moment its first sample is due; the count and the total stall;
- **RTF**, total time over audio duration, and **audio seconds per second** over the run.

The client is httpx (async, HTTP/1.1 keep-alive) reading the body as it arrives, the kit's own
``StreamDecoder`` on the bytes. Run::

    python -m benchmarks.streaming --host http://127.0.0.1:8000 --concurrency 8 --requests 80
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from benchmarks.stats import distribution
from voicebox_api import (
    STREAM_MEDIA_TYPE,
    StreamAudio,
    StreamDecoder,
    StreamEnd,
    StreamHeader,
    StreamProtocolError,
)

__all__ = [
    "StreamRecord",
    "StreamSummary",
    "Underruns",
    "main",
    "playback_underruns",
    "read_chunks",
    "read_stream",
    "record_fields",
    "run_streams",
    "stream_once",
    "summarize_streams",
]


@dataclass
class StreamRecord:
    """One streamed request; times are ``time.perf_counter()`` seconds."""

    intended_at: float
    sent_at: float
    sample_rate: int = 0
    arrivals: list[float] = field(default_factory=list)
    """When each audio frame was read."""
    samples: list[int] = field(default_factory=list)
    """How many samples each audio frame held."""
    ended_at: float | None = None
    status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.ended_at is not None and bool(self.arrivals)

    @property
    def ttfp_s(self) -> float | None:
        return self.arrivals[0] - self.intended_at if self.arrivals else None

    @property
    def total_s(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.intended_at

    @property
    def audio_s(self) -> float:
        return sum(self.samples) / self.sample_rate if self.sample_rate else 0.0

    @property
    def gaps_s(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]


@dataclass(frozen=True)
class Underruns:
    count: int
    stall_s: float


def playback_underruns(
    arrivals: Sequence[float], samples: Sequence[int], sample_rate: int
) -> Underruns:
    """Stalls of a player that starts playing at the first arrival, in real time.

    Frame ``i`` is due when the samples before it have played: ``start + before / rate`` plus
    the stalls so far. Arriving later stalls playback until it arrives.
    """
    if not arrivals:
        return Underruns(0, 0.0)
    start, played, stalled, count = arrivals[0], 0, 0.0, 0
    for arrived, size in zip(arrivals, samples, strict=True):
        due = start + played / sample_rate + stalled
        if arrived > due + 1e-9:
            count += 1
            stalled += arrived - due
        played += size
    return Underruns(count, stalled)


async def read_stream(response: httpx.Response, record: StreamRecord) -> None:
    """Read a 200 stream into ``record``, timing each audio frame; raises what breaks it."""
    decoder = StreamDecoder()
    async for data in response.aiter_raw():
        now = time.perf_counter()
        for chunk in decoder.feed(data):
            _note(record, chunk, now)
    decoder.finish()


def read_chunks(chunks: Iterable[bytes], record: StreamRecord) -> None:
    """``read_stream`` for blocking clients (Locust's FastHttpUser): the same decoding."""
    decoder = StreamDecoder()
    for data in chunks:
        now = time.perf_counter()
        for chunk in decoder.feed(data):
            _note(record, chunk, now)
    decoder.finish()


def record_fields(record: StreamRecord) -> dict[str, Any]:
    """The streaming members of a ``RequestRecord`` (benchmarks.results)."""
    underruns = playback_underruns(record.arrivals, record.samples, record.sample_rate)
    ttfp = record.ttfp_s
    return {
        "ttfp_ms": None if ttfp is None else ttfp * 1000,
        "gap_max_ms": max(record.gaps_s, default=0.0) * 1000,
        "underruns": underruns.count,
        "stall_s": underruns.stall_s,
    }


async def stream_once(
    client: httpx.AsyncClient, body: dict[str, Any], intended_at: float
) -> StreamRecord:
    record = StreamRecord(intended_at=intended_at, sent_at=time.perf_counter())
    headers = {"Accept": STREAM_MEDIA_TYPE}
    try:
        async with client.stream("POST", "/v1/generate", json=body, headers=headers) as response:
            record.status = response.status_code
            if response.status_code != 200:
                await response.aread()
                record.error = f"HTTP {response.status_code}"
                return record
            await read_stream(response, record)
    except (httpx.HTTPError, StreamProtocolError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"[:200]
    return record


def _note(record: StreamRecord, chunk: StreamHeader | StreamAudio | StreamEnd, now: float) -> None:
    if isinstance(chunk, StreamHeader):
        record.sample_rate = chunk.sample_rate
    elif isinstance(chunk, StreamAudio):
        record.arrivals.append(now)
        record.samples.append(chunk.num_samples)
    else:
        record.ended_at = now


async def run_streams(
    base_url: str,
    body: dict[str, Any],
    *,
    requests: int,
    concurrency: int,
    rate: float | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[list[StreamRecord], float]:
    """``requests`` streams: closed loop with ``concurrency`` workers, or open loop at ``rate``
    per second (fixed intervals, at most ``concurrency`` in flight). Returns the records and
    the run's wall time."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(120.0, connect=5.0)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=timeout, headers=headers
    ) as client:
        started = time.perf_counter()
        if rate is None:
            records = await _closed_loop(client, body, requests, concurrency)
        else:
            records = await _open_loop(client, body, requests, rate, started)
        return records, time.perf_counter() - started


async def _closed_loop(
    client: httpx.AsyncClient, body: dict[str, Any], requests: int, concurrency: int
) -> list[StreamRecord]:
    records: list[StreamRecord] = []
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            records.append(await stream_once(client, body, time.perf_counter()))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return records


async def _open_loop(
    client: httpx.AsyncClient, body: dict[str, Any], requests: int, rate: float, start: float
) -> list[StreamRecord]:
    tasks = []
    for index in range(requests):
        intended = start + index / rate
        await asyncio.sleep(max(0.0, intended - time.perf_counter()))
        tasks.append(asyncio.ensure_future(stream_once(client, body, intended)))
    return list(await asyncio.gather(*tasks))


@dataclass(frozen=True)
class StreamSummary:
    requests: int
    ok: int
    errors: dict[str, int]
    ttfp_ms: dict[str, Any] | None
    total_ms: dict[str, Any] | None
    ttfp_fraction: dict[str, Any] | None
    """TTFP over total time, per request."""
    gap_ms: dict[str, Any] | None
    underrun_requests: int
    underruns: int
    stall_s: float
    rtf: dict[str, Any] | None
    audio_s_per_s: float


def summarize_streams(records: Sequence[StreamRecord], wall_s: float) -> StreamSummary:
    good = [r for r in records if r.ok]
    errors: dict[str, int] = {}
    for record in records:
        if not record.ok:
            kind = (record.error or "incomplete").split(":")[0]
            errors[kind] = errors.get(kind, 0) + 1
    underruns = [playback_underruns(r.arrivals, r.samples, r.sample_rate) for r in good]

    def dist(values: Sequence[float], unit: str = "ms") -> dict[str, Any] | None:
        found = distribution(values, unit)
        return None if found is None else found.model_dump()

    return StreamSummary(
        requests=len(records),
        ok=len(good),
        errors=errors,
        ttfp_ms=dist([r.ttfp_s * 1000 for r in good if r.ttfp_s is not None]),
        total_ms=dist([r.total_s * 1000 for r in good if r.total_s is not None]),
        ttfp_fraction=dist(
            [r.ttfp_s / r.total_s for r in good if r.ttfp_s is not None and r.total_s], "ratio"
        ),
        gap_ms=dist([gap * 1000 for r in good for gap in r.gaps_s]),
        underrun_requests=sum(1 for u in underruns if u.count),
        underruns=sum(u.count for u in underruns),
        stall_s=round(sum(u.stall_s for u in underruns), 4),
        rtf=dist([r.total_s / r.audio_s for r in good if r.total_s and r.audio_s], "ratio"),
        audio_s_per_s=round(sum(r.audio_s for r in good) / wall_s, 3) if wall_s > 0 else 0.0,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", required=True, help="the provider's base URL")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--voice-prompt", required=True, help="a JSON file with a voice prompt")
    parser.add_argument("--text", default="The train left at noon. It crossed the river.")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rate", type=float, default=None, help="open loop, requests per second")
    args = parser.parse_args(argv)
    with open(args.voice_prompt, encoding="utf-8") as handle:
        prompt = json.load(handle)
    body = {"text": args.text, "voice_prompt": prompt, "language": "en", "seed": 1}
    headers = {"X-API-Key": args.api_key} if args.api_key else None
    records, wall = asyncio.run(
        run_streams(
            args.host,
            body,
            requests=args.requests,
            concurrency=args.concurrency,
            rate=args.rate,
            headers=headers,
        )
    )
    print(json.dumps(asdict(summarize_streams(records, wall)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
