"""Prometheus metrics, in a registry of the app's own (two apps in one process never collide).

Event counters and histograms are updated as things happen; state (queue depth, jobs running,
cache size) is read from its owner at scrape time by a collector, so it can never go stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from reference_server.cache import CacheStats

__all__ = ["CONTENT_TYPE", "KNOWN_ENDPOINTS", "Metrics", "QueueState", "endpoint_label"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
KNOWN_ENDPOINTS: Final = frozenset(
    {
        "/health",
        "/v1/generate",
        "/v1/create_voice_prompt",
        "/v1/transcribe",
        "/v1/audio/transcriptions",
        "/metrics",
        "/openapi.json",
    }
)
_LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)
_RTF_BUCKETS: Final = (0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 5, 10)
_BATCH_BUCKETS: Final = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


def endpoint_label(path: str) -> str:
    """The route, or ``other``: raw paths would let clients mint unbounded label values."""
    return path if path in KNOWN_ENDPOINTS else "other"


@dataclass(frozen=True)
class QueueState:
    depth: int
    running: int
    capacity: int


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "voicebox_http_requests",
            "HTTP requests answered.",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "voicebox_http_request_duration_seconds",
            "Time to answer, by endpoint.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "voicebox_http_requests_in_flight", "HTTP requests being answered now.", registry=r
        )
        self.rejected = Counter(
            "voicebox_rejected_requests", "Requests refused for capacity.", ["reason"], registry=r
        )
        self.batch_size = Histogram(
            "voicebox_batch_size",
            "Jobs per backend call.",
            ["queue"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "voicebox_batch_duration_seconds",
            "Time per backend call.",
            ["queue"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "voicebox_queue_wait_seconds",
            "Time jobs waited for a worker.",
            ["queue"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.rtf = Histogram(
            "voicebox_generation_rtf",
            "Real-time factor of generations: inference seconds per second of audio.",
            buckets=_RTF_BUCKETS,
            registry=r,
        )
        self.audio_seconds = Counter(
            "voicebox_generated_audio_seconds", "Seconds of audio generated.", registry=r
        )

    def watch(
        self,
        queues: Callable[[], Mapping[str, QueueState]],
        cache: Callable[[], CacheStats],
    ) -> None:
        """Report queue and cache state, read at scrape time."""
        self.registry.register(_StateCollector(queues, cache))

    def batch_observer(self, queue: str) -> _BatchObserver:
        return _BatchObserver(self, queue)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _BatchObserver:
    def __init__(self, metrics: Metrics, queue: str) -> None:
        self._size = metrics.batch_size.labels(queue=queue)
        self._seconds = metrics.batch_seconds.labels(queue=queue)

    def batch_done(self, size: int, seconds: float) -> None:
        self._size.observe(size)
        self._seconds.observe(seconds)


class _StateCollector(Collector):
    def __init__(
        self,
        queues: Callable[[], Mapping[str, QueueState]],
        cache: Callable[[], CacheStats],
    ) -> None:
        self._queues = queues
        self._cache = cache

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily("voicebox_queue_depth", "Jobs waiting.", labels=["queue"])
        running = GaugeMetricFamily("voicebox_queue_running", "Jobs running.", labels=["queue"])
        capacity = GaugeMetricFamily(
            "voicebox_queue_capacity", "Jobs the queue holds.", labels=["queue"]
        )
        for name, state in self._queues().items():
            depth.add_metric([name], state.depth)
            running.add_metric([name], state.running)
            capacity.add_metric([name], state.capacity)
        yield from (depth, running, capacity)
        stats = self._cache()
        yield CounterMetricFamily("voicebox_cache_hits", "Cache hits.", value=stats.hits)
        yield CounterMetricFamily("voicebox_cache_misses", "Cache misses.", value=stats.misses)
        yield CounterMetricFamily(
            "voicebox_cache_evictions", "Cache evictions.", value=stats.evictions
        )
        yield CounterMetricFamily(
            "voicebox_cache_coalesced",
            "Requests that joined an identical one in flight.",
            value=stats.coalesced,
        )
        yield GaugeMetricFamily("voicebox_cache_bytes", "Bytes cached.", value=stats.bytes)
        yield GaugeMetricFamily(
            "voicebox_cache_max_bytes", "Cache capacity in bytes.", value=stats.max_bytes
        )
        yield GaugeMetricFamily("voicebox_cache_entries", "Entries cached.", value=stats.entries)
