"""A session whose provider is a function: checks run in milliseconds, without a server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from conformance.engine.options import AsrJudgeChoice, SpeakerJudgeChoice, SuiteOptions
from conformance.engine.references import voice_references
from conformance.engine.session import SUITE_RETRY, Session, _ExchangeLog, _Shared
from voicebox_api import ProviderClient

Handler = Callable[[httpx.Request], httpx.Response]
PROVIDER = "http://provider.test"


def session_over(handler: Handler, **options: Any) -> Session:
    """A session against ``handler``, with no judges and no readiness wait."""
    suite = SuiteOptions(
        provider_url=PROVIDER,
        asr_judge=AsrJudgeChoice.NONE,
        speaker_judge=SpeakerJudgeChoice.NONE,
        wait_s=0,
        **options,
    )
    log = _ExchangeLog()
    client = ProviderClient(
        settings=suite.client_settings(),
        on_exchange=log,
        retry=SUITE_RETRY,
        transport=httpx.MockTransport(handler),
        sleep=lambda _: None,
    )
    references = voice_references(suite.reference_audio, suite.reference_text)
    shared = _Shared(suite, suite.client_settings(), client, log, references, None, "", None, "")
    return Session(shared)


def json_answer(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)
