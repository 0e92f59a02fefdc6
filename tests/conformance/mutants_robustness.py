"""Mutants of SPEC.md §16 (ROB-*): the reference server with one robustness defect each."""

from __future__ import annotations

import asyncio
import json

from tests.conformance.mutants import Mutant, form_fields, is_create, is_generate, on_request
from tests.conformance.rewrite import Exchange, Rewrite

_DECODE_DELAY_S = 2.5
_LATE_REFUSAL_S = 1.5


def _is_flac_upload(ex: Exchange) -> bool:
    return is_create(ex) and form_fields(ex).get("audio", b"")[:4] == b"fLaC"


async def _decode_first(ex: Exchange) -> None:
    """Stands for decoding the whole upload before its size is checked: slow, then refused."""
    if len(form_fields(ex).get("audio", b"")) > 100_000:
        await asyncio.sleep(_DECODE_DELAY_S)


def _refuse_late() -> Rewrite:
    async def hook(ex: Exchange) -> None:
        if is_generate(ex) and ex.status in (429, 503):
            await asyncio.sleep(_LATE_REFUSAL_S)

    return Rewrite(on_response=hook)


def _echo_key() -> Rewrite:
    async def hook(ex: Exchange) -> None:
        presented = ex.headers.get("x-api-key")
        if ex.status == 401 and presented:
            body = json.loads(ex.response_body)
            body["detail"] = f"invalid API key {presented!r}"
            ex.response_body = json.dumps(body).encode()

    return Rewrite(on_response=hook)


def robustness_mutants() -> list[Mutant]:
    return [
        Mutant(
            "ROB-1",
            "decodes a whole upload before it checks its decoded size",
            lambda: on_request(_is_flac_upload, _decode_first),
        ),
        Mutant(
            "ROB-2",
            "has no body-read timeout and no minimum rate",
            Rewrite,
            {"body_timeout_s": 3600.0, "min_body_rate_bytes": 0},
        ),
        Mutant(
            "ROB-3",
            "refuses overload only after the request has waited its turn",
            _refuse_late,
        ),
        Mutant("ROB-4", "echoes a wrong API key in its 401 message", _echo_key),
    ]
