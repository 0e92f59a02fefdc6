"""The reference server on loopback, optionally with one defect, and the suite run against it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from conformance.checks import registered
from conformance.engine.options import AsrJudgeChoice, SpeakerJudgeChoice, SuiteOptions
from conformance.engine.record import CaseResult, Verdict
from conformance.engine.runner import Runner
from conformance.engine.session import Session
from reference_server.app import create_app
from reference_server.bodytimeout import BodyTimeoutMiddleware
from reference_server.config import ServerConfig
from testkit.serving import serve
from tests.conformance.rewrite import Rewrite, RewriteMiddleware

API_KEY = "conformance-test-key-7f3a"

BASE_CONFIG = ServerConfig(
    api_key=API_KEY,
    max_text_length=300,
    queue_size=1,
    workers=1,
    instance_id="conformance-base",
    access_log=False,
    log_level="warning",
)
"""The correct provider every mutant derives from: a key (so AUTH-* run), a queue of one (so the
burst of eight concurrent generations always provokes a 503 and ERR-8 is exercised) and a modest
text limit (GEN-5/6)."""


@contextlib.contextmanager
def provider(rewrite: Rewrite | None = None, **config: Any) -> Iterator[str]:
    """The reference server (espeak, bundled Whisper), optionally with one defect."""
    settings = BASE_CONFIG.replace(**config)
    app: Any = create_app(settings)
    if rewrite is not None:
        # The rewrite reads whole bodies first; it keeps the server's body deadlines (ROB-2).
        app = BodyTimeoutMiddleware(
            RewriteMiddleware(app, rewrite),
            timeout_s=settings.body_timeout_s,
            min_rate=settings.min_body_rate_bytes,
        )
    # No wait for /health: a mutant may break it, and the suite is what judges it.
    with serve(app, wait_health=False) as url:
        yield url


def run_suite(url: str, *, only: tuple[str, ...] = (), **options: Any) -> dict[str, CaseResult]:
    """Every registered check (or those whose ID starts with one of ``only``) against ``url``,
    in SPEC.md order, as the plugin runs them."""
    values: dict[str, Any] = {
        "asr_judge": AsrJudgeChoice.AUTO,
        "speaker_judge": SpeakerJudgeChoice.AUTO,
        "wait_s": 30,
        "concurrency": 8,
        "robustness": True,
        **options,
    }
    suite = SuiteOptions(provider_url=url, api_key=API_KEY, **values)
    session = Session.open(suite)
    try:
        runner = Runner(session, replay=False)
        return {
            check_id: runner.run(check)
            for check_id, check in registered().items()
            if not only or check_id.startswith(only)
        }
    finally:
        session.close()


def failures(results: dict[str, CaseResult]) -> dict[str, str]:
    return {
        case_id: f"{case.verdict.value}: {case.reason}"
        for case_id, case in results.items()
        if case.verdict in (Verdict.FAIL, Verdict.NON_STRICT, Verdict.FLAKY)
    }
