"""The whole suite through the openai-speech bridge in front of the reference server's own
/v1/audio/speech: the bridge makes an OpenAI-compatible speech server a conforming provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.engine.record import Verdict
from reference_server.app import create_app
from reference_server.config import ServerConfig
from tests.conformance.provider import BASE_CONFIG, run_suite, serve

pytestmark = [pytest.mark.slow, pytest.mark.judges]

UPSTREAM_KEY = "upstream-key-91c2"


@pytest.fixture(scope="module")
def bridge_url() -> Iterator[str]:
    upstream = create_app(
        ServerConfig(api_key=UPSTREAM_KEY, whisper="none", access_log=False, log_level="warning")
    )
    with serve(upstream) as upstream_url:
        options = {
            "upstream": f"{upstream_url}/v1",
            "api_key": UPSTREAM_KEY,
            "deterministic": "true",  # espeak honours seeds bit-exactly
        }
        bridge = create_app(BASE_CONFIG.replace(backend="openai-speech", backend_options=options))
        with serve(bridge) as url:
            yield url


def test_the_bridge_passes_the_whole_suite(bridge_url: str) -> None:
    results = run_suite(bridge_url)
    unexpected = {
        k: f"{v.verdict.value}: {v.reason}"
        for k, v in results.items()
        if v.verdict not in (Verdict.PASS, Verdict.INFO, Verdict.UNIMPLEMENTED)
    }
    assert not unexpected
