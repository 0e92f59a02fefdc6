"""Endpoints served but not declared are found with one empty POST, and the verdict says so."""

from __future__ import annotations

import httpx
import pytest

from conformance.checks._probe import serves_undeclared
from tests.checks.fakes import json_answer, session_over


@pytest.mark.parametrize(
    ("status", "served"),
    [(404, False), (405, False), (422, True), (400, True), (415, True), (401, True)],
)
def test_only_404_and_405_mean_absent(status: int, served: bool) -> None:
    s = session_over(lambda request: json_answer(status, {"detail": "x"}))
    assert serves_undeclared(s, "/v1/transcribe", auth="key") is served
    assert bool(s.take_notes()) is served


def test_the_probe_is_sent_once() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_answer(422, {"detail": "audio is required"})

    s = session_over(handler)
    for _ in range(3):
        serves_undeclared(s, "/v1/transcribe", auth="key")
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/v1/transcribe")]
    assert s.take_notes() == [
        "/v1/transcribe is served but not declared in /health capabilities (found by probing)"
    ]
