"""SPEC.md §3: errors — malformed input gets a 4xx with the error shape, never a 5xx or a leak."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from conformance.checks._expect import describe, expect_status, strict_json
from conformance.checks._schema import error_body_errors
from conformance.engine.outcome import Blocked, Evidence, Failed, NotApplicable
from conformance.engine.registry import check
from voicebox_api import READY_STATUSES, parse_retry_after

if TYPE_CHECKING:
    from conformance.engine.session import Session

__all__ = ["Probe", "error_battery"]

CLIENT_MISTAKE = {400, 422}
FUZZ_EXAMPLES = 25


@dataclass(frozen=True)
class Probe:
    name: str
    clause: str
    response: httpx.Response


def _post_raw(s: Session, body: bytes, name: str, clause: str) -> Probe:
    response = s.send(
        "POST", "/v1/generate", content=body, headers={"Content-Type": "application/json"}
    )
    return Probe(name, clause, response)


def _post_json(s: Session, body: Any, name: str, clause: str) -> Probe:
    # Serialised here: httpx sends no body at all for json=None, but JSON null is a body.
    return _post_raw(s, json.dumps(body).encode(), name, clause)


def _malformed_json(s: Session) -> list[Probe]:
    bodies = {
        "truncated JSON": b'{"text": "Hello", "voice_prompt": {',
        "not JSON at all": b"text=Hello",
        "single-quoted keys": b"{'text': 'Hello'}",
        "empty body": b"",
        "trailing garbage": b'{"text": "Hello"} trailing',
    }
    return [_post_raw(s, body, name, "ERR-2") for name, body in bodies.items()]


def _schema_violations(s: Session, prompt: dict[str, Any]) -> list[Probe]:
    text = "Hello."
    bodies: dict[str, Any] = {
        "text missing": {"voice_prompt": prompt},
        "voice_prompt missing": {"text": text},
        "text is a number": {"text": 123, "voice_prompt": prompt},
        "text is null": {"text": None, "voice_prompt": prompt},
        "voice_prompt is a string": {"text": text, "voice_prompt": "voice"},
        "voice_prompt is a list": {"text": text, "voice_prompt": [1, 2]},
        "seed is a string": {"text": text, "voice_prompt": prompt, "seed": "abc"},
        "seed is fractional": {"text": text, "voice_prompt": prompt, "seed": 1.5},
        "language is a number": {"text": text, "voice_prompt": prompt, "language": 7},
        "body is an array": [text, prompt],
    }
    return [_post_json(s, body, name, "ERR-3") for name, body in bodies.items()]


def _garbage_prompts(s: Session, prompt: dict[str, Any]) -> list[Probe]:
    nested: dict[str, Any] = {}
    for _ in range(40):
        nested = {"a": nested}
    garbage: dict[str, Any] = {
        "empty object": {},
        "unknown members": {"speaker": "alice", "style": 3},
        "null members": dict.fromkeys(prompt, None),
        "members replaced by strings": dict.fromkeys(prompt, "garbage"),
        "deeply nested": nested,
        "large array": {"data": list(range(20_000))},
    }
    return [
        _post_json(
            s, {"text": "Hello.", "voice_prompt": g, "seed": 1}, f"voice prompt: {name}", "ERR-4"
        )
        for name, g in garbage.items()
    ]


def _json_values() -> st.SearchStrategy[Any]:
    scalars: st.SearchStrategy[Any] = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=12,
    )


def _near_schema_bodies() -> st.SearchStrategy[Any]:
    """Objects with the request's member names and arbitrary values, never a valid prompt."""
    member = st.sampled_from(["text", "voice_prompt", "language", "seed"])
    return st.dictionaries(member, _json_values(), max_size=4) | _json_values()


_SEED_CORPUS: tuple[Any, ...] = (
    {"text": ["Hello", "there"], "voice_prompt": {}},
    {"text": {"en": "Hello"}, "voice_prompt": {}},
    {"text": "Hello", "voice_prompt": 7},
    {"text": "Hello", "voice_prompt": {}, "language": ["en"]},
    {"text": "Hello", "voice_prompt": {}, "language": None},
    {"text": "Hello", "voice_prompt": {}, "seed": {"value": 1}},
    {"text": "Hello", "voice_prompt": {}, "seed": 10**30},
    {"text": "Hello", "voice_prompt": {}, "seed": True},
    {"text": "\u0000\ud800", "voice_prompt": {"a": [[[[]]]]}},
    "Hello",
    None,
    0,
)
"""Type confusions a handler is most likely to trip on, sent before the generated bodies."""


def _fuzz(s: Session) -> list[Probe]:
    """The seed corpus, then FUZZ_EXAMPLES generated bodies; reproducible, never shrunk."""
    probes: list[Probe] = []

    def send(body: Any) -> None:
        probes.append(_post_json(s, body, f"fuzzed body {json.dumps(body)[:80]}", "ERR-5"))

    for seed_body in _SEED_CORPUS:
        send = example(seed_body)(send)
    fuzzed = settings(
        max_examples=FUZZ_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(given(_near_schema_bodies())(send))
    fuzzed()
    return probes


def error_battery(s: Session) -> list[Probe]:
    """The malformed requests of ERR-2 to ERR-5, sent once per session."""

    def build() -> list[Probe]:
        s.health()  # the "before" of ERR-7
        prompt = s.voice_prompt("A")
        return [
            *_malformed_json(s),
            *_schema_violations(s, prompt),
            *_garbage_prompts(s, prompt),
            *_fuzz(s),
        ]

    result: list[Probe] = s.memo("error-battery", build)
    return result


def _probes(s: Session, clause: str) -> list[Probe]:
    return [p for p in error_battery(s) if p.clause == clause]


def _expect_client_mistakes(probes: list[Probe]) -> Evidence:
    for probe in probes:
        expect_status(probe.response, CLIENT_MISTAKE, f"for {probe.name}")
    return Evidence({"requests": len(probes)}, probes[0].response if probes else None)


@check("ERR-1")
def errors_have_the_detail_shape(s: Session) -> Evidence:
    errors = [p for p in error_battery(s) if p.response.status_code >= 400]
    if not errors:
        raise Blocked("ERR-2", "no malformed request was refused, so no error body to judge")
    for probe in errors:
        problem = _detail_problem(probe.response)
        if problem:
            raise Failed(
                'a JSON object {"detail": string or list of {loc, msg, type}}',
                f"for {probe.name}: {problem}",
                probe.response,
            )
    return Evidence({"error_bodies": len(errors)}, errors[0].response)


def _detail_problem(response: httpx.Response) -> str | None:
    try:
        body = strict_json(response.text)
    except ValueError:
        return f"not JSON: {describe(response)}"
    problems = error_body_errors(body).get("ERR-1")
    return f"{'; '.join(problems)}: {describe(response)}" if problems else None


@check("ERR-2")
def malformed_json_is_a_client_error(s: Session) -> Evidence:
    return _expect_client_mistakes(_probes(s, "ERR-2"))


@check("ERR-3")
def schema_violations_are_client_errors(s: Session) -> Evidence:
    return _expect_client_mistakes(_probes(s, "ERR-3"))


@check("ERR-4")
def foreign_voice_prompts_are_refused(s: Session) -> Evidence:
    return _expect_client_mistakes(_probes(s, "ERR-4"))


@check("ERR-5")
def arbitrary_bodies_never_get_5xx(s: Session) -> Evidence:
    probes = _probes(s, "ERR-5")
    for probe in probes:
        if probe.response.status_code >= 500:
            raise Failed(
                "a status below 500",
                f"for {probe.name}: {describe(probe.response)}",
                probe.response,
            )
    return Evidence(
        {
            "fuzzed_bodies": len(probes),
            "statuses": sorted({p.response.status_code for p in probes}),
        },
        probes[0].response if probes else None,
    )


_LEAKS = (
    (re.compile(r"Traceback \(most recent call last\)"), "a Python traceback"),
    (re.compile(r'File "[^"]+", line \d+'), "a stack frame"),
    (
        re.compile(r"(?<![\w.])(?:/(?:home|usr|tmp|var|opt|root|srv|app|etc|mnt)/[\w.\-/]+)"),
        "a filesystem path",
    ),
    (re.compile(r"[A-Za-z]:\\(?:[\w.\- ]+\\)+"), "a Windows path"),
    (re.compile(r"site-packages|dist-packages"), "a Python install path"),
    (re.compile(r"\bat [\w.$]+\([\w]+\.(?:java|kt|js|ts):\d+\)"), "a stack frame"),
)


@check("ERR-6")
def errors_leak_no_trace_or_path(s: Session) -> Evidence:
    errors = [p for p in error_battery(s) if p.response.status_code >= 400]
    for probe in errors:
        for pattern, what in _LEAKS:
            match = pattern.search(probe.response.text)
            if match:
                raise Failed(
                    "no stack trace or filesystem path in error bodies",
                    f"{what} for {probe.name}: …{match.group(0)[:120]}…",
                    probe.response,
                )
    return Evidence({"error_bodies_scanned": len(errors)})


@check("ERR-7")
def provider_is_healthy_after_malformed_requests(s: Session) -> Evidence:
    error_battery(s)
    before = s.health()
    if before.response.status_code != 200 or _status(before.response) not in READY_STATUSES:
        raise Blocked("HLT-2", "the provider was not ready before the malformed requests either")
    after = s.send("GET", "/health")
    if after.status_code != 200 or _status(after) not in READY_STATUSES:
        raise Failed(
            "200 with a ready status after the malformed requests, as before",
            describe(after),
            after,
        )
    return Evidence({"status": _status(after)}, after)


def _status(response: httpx.Response) -> Any:
    try:
        return strict_json(response.text).get("status")
    except (ValueError, AttributeError):
        return None


@check("ERR-8")
def overload_answers_carry_retry_after(s: Session) -> Evidence:
    seen = [*overload_burst(s), *s.responses_seen()]
    observed = [r for r in seen if r.status_code in (429, 503)]
    if not observed:
        raise NotApplicable(
            "the provider answered no 429 or 503 during this run",
            "raise --conformance-concurrency above the provider's queue size to provoke one",
        )
    for response in observed:
        value = response.headers.get("retry-after")
        if parse_retry_after(value) is None:
            raise Failed(
                "a Retry-After header (seconds or an HTTP-date)",
                f"{response.status_code} with Retry-After {value!r}",
                response,
            )
    return Evidence({"overload_answers": len(observed)}, observed[0])


def overload_burst(s: Session) -> list[httpx.Response]:
    """``--conformance-concurrency`` unseeded generations at once, not retried, so that a
    provider with a bounded queue answers some of them 503. Unseeded, so no cache absorbs them."""

    async def send_all() -> list[httpx.Response]:
        body = {"text": "Hello there.", "voice_prompt": s.voice_prompt("A")}
        async with s.async_client() as client:
            return list(
                await asyncio.gather(
                    *(
                        client.request("POST", "/v1/generate", json=body)
                        for _ in range(s.options.concurrency)
                    )
                )
            )

    result: list[httpx.Response] = s.memo("overload-burst", lambda: asyncio.run(send_all()))
    return result
