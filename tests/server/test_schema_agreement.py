"""openapi.json and the server agree: what the document allows, the server accepts, except
where SPEC.md Appendix A says why (an opaque prompt, a language, undecodable audio)."""

from __future__ import annotations

import json
from typing import Any

from tests.server.conftest import Harness
from voicebox_api import build_openapi


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = build_openapi()["components"]["schemas"]
    return schemas


def test_an_integral_float_seed_is_an_integer_as_json_schema_says(harness: Harness) -> None:
    prompt = harness.prompt()
    body = json.dumps({"text": "hello", "voice_prompt": prompt, "seed": 3120301468.0})
    response = harness.client.post(
        "/v1/generate", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    fractional = body.replace("3120301468.0", "3120301468.5")
    refused = harness.client.post(
        "/v1/generate", content=fractional, headers={"content-type": "application/json"}
    )
    assert refused.status_code == 422


def test_multipart_fields_are_never_nullable() -> None:
    for form in ("CreateVoicePromptForm", "TranscribeForm", "OpenAITranscriptionForm"):
        schema = _schemas()[form]
        assert schema["maxProperties"] == 32
        for name, field in schema["properties"].items():
            assert {"type": "null"} not in field.get("anyOf", []), (form, name)
            assert field.get("type") != "null", (form, name)


def test_the_schema_refuses_an_empty_voice_prompt_as_the_server_does(harness: Harness) -> None:
    assert _schemas()["GenerateRequest"]["properties"]["voice_prompt"]["minProperties"] == 1
    response = harness.client.post("/v1/generate", json={"text": "hi", "voice_prompt": {}})
    assert response.status_code == 422


def test_an_empty_model_is_refused_by_schema_and_server(harness: Harness) -> None:
    assert _schemas()["OpenAITranscriptionForm"]["properties"]["model"]["minLength"] == 1
    from tests.server.fakes import tone_wav

    response = harness.client.post(
        "/v1/audio/transcriptions",
        files={"file": ("a.wav", tone_wav(), "audio/wav")},
        data={"model": ""},
    )
    assert response.status_code == 400
