from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.responses import audio_seconds, interpret, parse_server_timing
from benchmarks.results import RequestRecord
from benchmarks.stats import distribution, percentile, summarize
from voicebox_api import encode_audio


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=300), st.floats(0.001, 1))
def test_nearest_rank_is_an_observed_value_with_enough_samples_below(
    values: list[float], fraction: float
) -> None:
    ordered = sorted(values)
    value = percentile(ordered, fraction)
    assert value in ordered
    at_or_below = sum(v <= value for v in ordered)
    assert at_or_below >= fraction * len(ordered) - 1e-9
    strictly_below = sum(v < value for v in ordered)
    assert strictly_below < fraction * len(ordered) + 1e-9


def test_percentiles_of_one_to_hundred_are_exact() -> None:
    values = [float(v) for v in range(1, 101)]
    d = distribution(values)
    assert d is not None
    assert (d.p50, d.p90, d.p95, d.p99, d.p999, d.max) == (50, 90, 95, 99, 100, 100)
    assert d.mean == pytest.approx(50.5)


def test_a_single_outlier_in_a_thousand_moves_p999_but_not_p99() -> None:
    d = distribution([10.0] * 999 + [2000.0])
    assert d is not None
    assert d.p99 == 10.0
    assert d.p999 == 10.0  # rank 999 of 1000
    assert d.max == 2000.0


def test_percentile_refuses_empty_and_bad_fractions() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], 0.0)


def _record(i: int, ok: bool = True, latency: float = 100.0, **extra: object) -> RequestRecord:
    fields: dict[str, object] = {
        "id": f"r{i}",
        "operation": "generate",
        "intended_at": 1000.0 + i,
        "sent_at": 1000.0 + i,
        "ended_at": 1000.1 + i,
        "service_ms": latency,
        "latency_ms": latency,
        "status": 200 if ok else 503,
        "ok": ok,
        "error_class": None if ok else "http_503",
        "request_bytes": 10,
        "response_bytes": 20,
        "audio_s": 2.0 if ok else None,
        "served_by": "a" if i % 2 else "b",
    }
    fields.update(extra)
    return RequestRecord.model_validate(fields)


def test_summary_counts_rates_rtf_goodput_and_bytes() -> None:
    records = [_record(i, latency=100.0 * (i + 1)) for i in range(4)] + [_record(9, ok=False)]
    summary = summarize(records, 2.0, slo_ms=250.0, check_fraction=0.0)
    assert (summary.requests, summary.ok, summary.errors) == (5, 4, 1)
    assert summary.errors_by_class == {"http_503": 1}
    assert summary.error_ratio == pytest.approx(0.2)
    assert summary.ok_rps == pytest.approx(2.0)
    assert summary.audio_seconds == pytest.approx(8.0)
    assert summary.audio_s_per_s == pytest.approx(4.0)
    assert summary.rtf is not None
    assert summary.rtf.max == pytest.approx(0.4 / 2.0)
    assert summary.goodput is not None
    assert summary.goodput.within_slo == 2
    assert summary.request_bytes == 50
    assert summary.served_by == {"a": 3, "b": 2}


def test_dropped_requests_are_counted_not_hidden() -> None:
    dropped = RequestRecord(
        id="d", operation="generate", intended_at=1.0, ok=False, error_class="client_overflow"
    )
    summary = summarize([_record(1), dropped], 1.0)
    assert summary.dropped == 1
    assert summary.sent == 1
    assert summary.errors_by_class == {"client_overflow": 1}


def test_server_timing_parsing() -> None:
    assert parse_server_timing('queue;dur=1.5, inference;desc="x";dur=120') == {
        "queue": 1.5,
        "inference": 120.0,
    }
    assert parse_server_timing(None) == {}
    assert parse_server_timing("cache;desc=hit, db;dur=abc") == {}


def test_audio_seconds_from_the_base64_length_alone() -> None:
    audio = encode_audio(np.zeros(24_000 * 2 + 1, dtype=np.float32))
    assert audio_seconds(audio, 24_000, "float32") == pytest.approx(2 + 1 / 24_000)
    assert audio_seconds(encode_audio(np.zeros(3, dtype=np.int16)), 8000, "int16") == 3 / 8000


def _body(samples: np.ndarray, rate: int = 24_000) -> bytes:
    import json

    return json.dumps(
        {"audio": encode_audio(samples), "sample_rate": rate, "dtype": str(samples.dtype)}
    ).encode()


def test_checked_responses_catch_silence_nan_and_bad_rates() -> None:
    t = np.arange(24_000) / 24_000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    assert interpret("generate", 200, _body(tone), check=True).ok
    silent = interpret("generate", 200, _body(np.full(24_000, 1e-4, np.float32)), check=True)
    assert silent.error_class == "invalid_audio.AUD-7"
    nan = b'{"audio": "AADAfw==", "sample_rate": 24000, "dtype": "float32"}'
    assert interpret("generate", 200, nan, check=True).error_class == "invalid_audio.AUD-4"
    assert interpret("generate", 200, nan, check=False).ok  # unchecked: only shape and size
    slow = interpret("generate", 200, _body(tone, rate=4000), check=True)
    assert slow.error_class == "invalid_audio.AUD-5"
    assert interpret("generate", 200, b"not json", check=False).error_class == "invalid_body"
    assert interpret("generate", 503, b'{"detail": "busy"}', check=False).error_class == "http_503"


def test_health_that_is_not_ready_is_a_failure() -> None:
    body = b'{"status": "loading", "model": "m", "device": "cpu"}'
    outcome = interpret("health", 200, body, check=False)
    assert not outcome.ok
    assert outcome.error_class == "not_ready"
    assert not math.isnan(0.0)


def test_api_keys_never_reach_the_results_document() -> None:
    from benchmarks.provenance import provenance, redact

    assert redact(["x", "--api-key", "s3cret", "--api-key=s3cret", "--rate", "5"]) == [
        "x", "--api-key", "***", "--api-key=***", "--rate", "5",
    ]  # fmt: skip
    document = provenance("t", "http://h", started_at=0.0, command=["--api-key", "s3cret"])
    assert "s3cret" not in document.model_dump_json()
