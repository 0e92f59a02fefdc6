"""The per-request record both load generators share."""

from __future__ import annotations

import httpx
import pytest

from benchmarks.records import request_record
from benchmarks.responses import Outcome
from benchmarks.scenarios import RequestFactory, ScenarioSettings, load_corpus, tone_reference


def test_a_late_send_is_charged_to_latency_and_the_response_headers_are_read() -> None:
    prepared = RequestFactory(
        ScenarioSettings(texts=tuple(load_corpus()), references=(tone_reference(),))
    ).generate({"provider": "x"})
    headers = httpx.Headers({"X-Served-By": "b1", "Server-Timing": "inference;dur=80.5"})
    record = request_record(
        prepared,
        Outcome(True, audio_s=1.5, checked=True),
        intended_at=100.0,
        sent_at=100.25,
        service_ms=500.0,
        status=200,
        response_bytes=4096,
        headers=headers,
        worker="worker-1",
    )
    assert record.id == prepared.request_id
    assert record.operation == "generate"
    assert record.queue_ms == pytest.approx(250.0)
    assert record.latency_ms == pytest.approx(750.0)
    assert record.ended_at == pytest.approx(100.75)
    assert (record.served_by, record.server_timing) == ("b1", {"inference": 80.5})
    assert (record.request_bytes, record.response_bytes) == (prepared.size, 4096)
    assert (record.ok, record.audio_s, record.checked, record.worker) == (
        True,
        1.5,
        True,
        "worker-1",
    )


def test_a_failed_request_keeps_its_error_and_no_status() -> None:
    prepared = RequestFactory(
        ScenarioSettings(scenario="mixed", texts=("x",), references=(tone_reference(),))
    ).build("health", None)
    record = request_record(
        prepared,
        Outcome(False, "connect_error", "refused"),
        intended_at=5.0,
        sent_at=5.0,
        service_ms=3.0,
        status=None,
        response_bytes=0,
        headers={},
    )
    assert (record.ok, record.status, record.error_class) == (False, None, "connect_error")
    assert record.queue_ms == 0.0
    assert record.latency_ms == record.service_ms == 3.0
