"""Fuzzing at scale: at least 10,000 Schemathesis requests from the committed openapi.json,
against the reference server with a key, and not one 5xx (issue 11).

Slow lane only. The synthetic backend keeps each request cheap, so the run is bounded by the
fuzzer's own generation time (a few minutes on 2 cores). The counts are printed for the log.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from reference_server.app import create_app
from tests.server.conftest import make_config, serve
from tests.server.fakes import FakeTranscriber, ProbeBackend

pytestmark = pytest.mark.slow

KEY = "fuzz-key-8c2e"
TARGET_REQUESTS = 10_000
_OPENAPI = Path(__file__).resolve().parents[2] / "openapi.json"
_EXAMPLES_PER_ROUND = 250
_KEYS = {"X-API-Key": KEY, "Authorization": f"Bearer {KEY}"}
"""Both places at once: the Voicebox endpoints take either, the OpenAI one only Bearer."""


def _fuzz_round(
    base_url: str, operations: list[Any], round_index: int, counts: collections.Counter[int]
) -> None:
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for operation in operations:
            if mode is GenerationMode.NEGATIVE and not operation.body:
                continue

            @hypothesis_seed(round_index)
            @settings(
                max_examples=_EXAMPLES_PER_ROUND,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: Any) -> None:
                response = case.call(base_url=base_url, headers=_KEYS, timeout=30)
                counts[response.status_code] += 1
                assert response.status_code < 500, (case.path, response.text[:300])

            fuzz()


def test_ten_thousand_schemathesis_requests_get_no_5xx(capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(
        make_config(api_key=KEY, max_text_length=200, rate_limit=None, queue_size=64),
        tts_factory=ProbeBackend,
        transcriber_factory=FakeTranscriber,
    )
    schema = schemathesis.openapi.from_path(str(_OPENAPI))
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    counts: collections.Counter[int] = collections.Counter()
    with serve(app) as base_url:
        round_index = 0
        while sum(counts.values()) < TARGET_REQUESTS:
            _fuzz_round(base_url, operations, round_index, counts)
            round_index += 1
        health = httpx.get(f"{base_url}/health", timeout=10)
    total = sum(counts.values())
    server_errors = sum(n for status, n in counts.items() if status >= 500)
    with capsys.disabled():
        print(
            "\nfuzz at scale:",
            json.dumps({"requests": total, "5xx": server_errors, "rounds": round_index,
                        "statuses": dict(sorted(counts.items()))}),
        )  # fmt: skip
    assert total >= TARGET_REQUESTS
    assert server_errors == 0
    assert health.json()["status"] == "healthy"
