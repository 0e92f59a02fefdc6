"""--conformance-wait: a provider still starting is waited for; any server that answers other
than 503 is there to be judged; one that never gets ready is reported in one line."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conformance.engine.readiness import ProviderNotReady, wait_for_provider
from voicebox_api import ProviderClient, Settings


def _client(answers: Iterator[int | None]) -> ProviderClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/health"
        status = next(answers)
        if status is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status, json={"status": "loading" if status == 503 else "healthy"})

    settings = Settings(tts_remote_url="http://provider.test:1")
    return ProviderClient(settings=settings, transport=httpx.MockTransport(handler))


def test_a_loading_provider_is_waited_for() -> None:
    answers = iter([None, 503, 503, 200])
    with _client(answers) as client:
        wait_for_provider(client, timeout_s=600, poll_s=0)
    assert next(answers, "done") == "done"


@pytest.mark.parametrize("status", [200, 401, 404, 500])
def test_any_answer_but_503_means_a_server_to_judge(status: int) -> None:
    answers = iter([status])
    with _client(answers) as client:
        wait_for_provider(client, timeout_s=0)


@pytest.mark.parametrize(
    ("status", "seen"), [(None, "no answer: ProviderConnectionError"), (503, "answered 503")]
)
def test_a_provider_that_never_gets_ready_says_what_was_seen(status: int | None, seen: str) -> None:
    with _client(iter([status] * 3)) as client, pytest.raises(ProviderNotReady, match=seen):
        wait_for_provider(client, timeout_s=0)
