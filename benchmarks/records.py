"""One request as the client saw it, built the same way by both load generators.

The open loop (``benchmarks.openloop``) and the Locust user (``benchmarks.locustfile``) time a
request differently, but once they know when it was meant to go, when it went, how long it took
and what the response meant, the record is the same: ``request_record`` makes it.
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.responses import Outcome, parse_server_timing
from benchmarks.results import RequestRecord
from benchmarks.scenarios import PreparedRequest
from benchmarks.streaming import StreamRecord, record_fields

__all__ = ["request_record"]


def request_record(
    prepared: PreparedRequest,
    outcome: Outcome,
    *,
    intended_at: float,
    sent_at: float,
    service_ms: float,
    status: int | None,
    response_bytes: int,
    headers: Mapping[str, str],
    worker: str | None = None,
    stream: StreamRecord | None = None,
) -> RequestRecord:
    """``intended_at`` and ``sent_at`` are epoch seconds, ``service_ms`` from the send to the
    response's last byte. Latency counts from the intended time, so client-side lateness is
    charged to it (coordinated omission); closed loops intend what they send. A ``stream`` that
    was read whole adds its audio and its timing (first audio, gaps, playback stalls)."""
    queue_ms = (sent_at - intended_at) * 1000
    streamed = record_fields(stream) if stream is not None and outcome.ok else {}
    audio_s = stream.audio_s or None if stream is not None else outcome.audio_s
    return RequestRecord(
        id=prepared.request_id,
        operation=prepared.operation,
        worker=worker,
        intended_at=intended_at,
        sent_at=sent_at,
        ended_at=sent_at + service_ms / 1000,
        queue_ms=queue_ms,
        service_ms=service_ms,
        latency_ms=queue_ms + service_ms,
        status=status,
        ok=outcome.ok,
        error_class=outcome.error_class,
        error_detail=outcome.error_detail,
        request_bytes=prepared.size,
        response_bytes=response_bytes,
        audio_s=audio_s,
        served_by=headers.get("x-served-by"),
        server_timing=parse_server_timing(headers.get("server-timing")),
        checked=outcome.checked,
        **streamed,
    )
