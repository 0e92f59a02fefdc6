"""Fuzzing every endpoint: Schemathesis from the served openapi.json, Hypothesis on bodies.

Expected: no 5xx, responses that match the document, and a healthy server afterwards (ERR-5,
ERR-7). Examples are bounded and derandomised so the run is reproducible and fits CI's 2 cores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from reference_server.app import create_app
from tests.server.conftest import make_config, serve
from tests.server.fakes import FakeTranscriber, ProbeBackend, tone_wav

pytestmark = pytest.mark.slow

_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = create_app(
        make_config(max_text_length=200),
        tts_factory=ProbeBackend,
        transcriber_factory=FakeTranscriber,
    )
    with serve(app) as url:
        yield url


def _assert_healthy(base_url: str) -> None:
    health = httpx.get(f"{base_url}/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "healthy"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error(base_url: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert {op.path for op in operations} >= {
        "/health", "/v1/generate", "/v1/create_voice_prompt", "/v1/transcribe",
        "/v1/audio/transcriptions",
    }  # fmt: skip
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not operation.body:
            continue  # nothing to break in a request without a body (GET /health)

        @_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Any) -> None:
            response = case.call(base_url=base_url, timeout=30)
            case.validate_response(response, checks=_CHECKS)

        fuzz()
    _assert_healthy(base_url)


_DOCUMENTED_REFUSALS = frozenset(
    {
        "invalid_voice_prompt",  # an opaque prompt this provider did not make (SPEC.md App. A 26)
        "unsupported_language",  # a well-formed code the provider does not speak (capabilities)
        "unsupported_audio",  # bytes that are not audio in a supported format
        "empty_upload",  # a zero-byte file part
        "text_too_long",  # longer than the advertised max_text_length
        "voice_not_found",  # /v1/audio/speech: a voice the server does not name (SPEC.md §15)
        "stream_needs_pcm",  # stream=true with another response_format (SPEC.md §15)
        "unsupported_task_type",  # a Qwen3-TTS task the server does not run (CustomVoice...)
        "not_acceptable",  # an Accept that allows none of the answers on offer: 406 (STR-9)
    }
)


def _refusal_code(response: httpx.Response) -> str | None:
    body = response.json()
    if "error" in body:  # OpenAI's envelope: the code, or the message's kind
        code = body["error"].get("code")
        return str(code) if code else None
    return str(body.get("code"))


def test_positive_data_is_refused_only_where_spec_says_why(base_url: str) -> None:
    """Schemathesis's positive_data_acceptance, with SPEC.md's documented exceptions."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    refused: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @_SETTINGS
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def accept(case: Any) -> None:
            response = case.call(base_url=base_url, timeout=30)
            if response.status_code < 400:
                return
            code = _refusal_code(response)
            assert code in _DOCUMENTED_REFUSALS, (case.path, response.text, case.body)
            refused[str(code)] = refused.get(str(code), 0) + 1

        accept()
    assert refused  # the fuzzer did reach the documented refusals


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@_SETTINGS
@given(
    body=st.one_of(
        _JSON,
        st.fixed_dictionaries(
            {"text": _JSON, "voice_prompt": _JSON},
            optional={"language": _JSON, "seed": _JSON},
        ),
    )
)
def test_any_json_body_to_generate_is_answered_without_a_5xx(base_url: str, body: Any) -> None:
    response = httpx.post(
        f"{base_url}/v1/generate",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert "detail" in response.json()


@_SETTINGS
@given(
    text=st.text(min_size=1, max_size=260),
    language=st.sampled_from(["en", "de", "zh", "xx", "EN", ""]),
    seed=st.one_of(st.none(), st.integers(min_value=-5, max_value=2**33)),
)
def test_valid_prompts_with_any_text_seed_and_language(
    base_url: str, text: str, language: str, seed: int | None
) -> None:
    response = httpx.post(
        f"{base_url}/v1/generate",
        json={"text": text, "voice_prompt": _prompt(base_url), "language": language, "seed": seed},
        timeout=30,
    )
    assert response.status_code in (200, 413, 422), response.text


@_SETTINGS
@given(data=st.binary(max_size=4096), name=st.text(max_size=60))
def test_any_bytes_uploaded_under_any_name_are_answered_without_a_5xx(
    base_url: str, data: bytes, name: str
) -> None:
    for path, field in (("/v1/create_voice_prompt", "audio"), ("/v1/transcribe", "audio"),
                        ("/v1/audio/transcriptions", "file")):  # fmt: skip
        response = httpx.post(
            f"{base_url}{path}",
            files={field: (name, data, "application/octet-stream")},
            data={"model": "whisper-1"},
            timeout=30,
        )
        assert response.status_code in (400, 413, 415, 422), (path, response.text)


_PROMPTS: dict[str, dict[str, Any]] = {}


def _prompt(base_url: str) -> dict[str, Any]:
    if base_url not in _PROMPTS:
        response = httpx.post(
            f"{base_url}/v1/create_voice_prompt",
            files={"audio": ("a.wav", tone_wav(), "audio/wav")},
            timeout=30,
        )
        _PROMPTS[base_url] = response.json()["voice_prompt"]
    return _PROMPTS[base_url]


def test_still_healthy_after_the_fuzzing(base_url: str) -> None:
    _assert_healthy(base_url)
