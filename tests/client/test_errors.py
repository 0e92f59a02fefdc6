"""Typed errors: the right class per status, the parsed error body, the clause a bad success
breaks, and a curl command that reproduces the request."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

from tests.client.conftest import Harness, Recorder, generate_body, json_response
from voicebox_api import (
    NO_RETRY,
    AudioCodecError,
    AuthenticationError,
    EmptyAudioError,
    ErrorBody,
    InvalidBase64Error,
    MisalignedLengthError,
    NonFiniteSamplesError,
    OpenAIErrorEnvelope,
    OutOfRangeError,
    ProtocolError,
    ProviderError,
    ProviderHTTPError,
    RateLimitedError,
    UnavailableError,
)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, ProviderHTTPError),
        (401, AuthenticationError),
        (404, ProviderHTTPError),
        (413, ProviderHTTPError),
        (422, ProviderHTTPError),
        (429, RateLimitedError),
        (500, ProviderHTTPError),
        (503, UnavailableError),
    ],
)
def test_each_status_raises_its_type_with_status_body_and_curl(
    harness: Harness, status: int, error_type: type[ProviderHTTPError]
) -> None:
    fake = Recorder(json_response(status, {"detail": f"went wrong {status}", "code": "x"}))
    options = {"retry": NO_RETRY}
    with pytest.raises(error_type) as caught:
        harness.call(fake, "generate", "Hi.", {}, client_options=options)
    error = caught.value
    assert type(error) is error_type
    assert isinstance(error, ProviderError)
    assert error.status == status
    assert error.response.status_code == status
    assert isinstance(error.body, ErrorBody)
    assert error.body.detail == f"went wrong {status}"
    assert error.request is fake.requests[0]
    assert f"answered {status}" in error.message
    assert f"went wrong {status}" in error.message
    assert error.curl.text.startswith("curl -i http://provider.test:8000/prefix/v1/generate")
    assert str(error).endswith(error.curl.text)


def test_validation_detail_lists_each_issue(harness: Harness) -> None:
    detail = [
        {"loc": ["body", "text"], "msg": "String should have at least 1 character", "type": "x"},
        {"loc": ["body", "seed"], "msg": "Input should be >= 0", "type": "y"},
    ]
    fake = Recorder(json_response(422, {"detail": detail}))
    with pytest.raises(ProviderHTTPError) as caught:
        harness.call(fake, "generate", "Hi.", {})
    assert isinstance(caught.value.body, ErrorBody)
    assert "body.text: String should have at least 1 character" in caught.value.message
    assert "body.seed: Input should be >= 0" in caught.value.message


def test_openai_errors_parse_the_openai_envelope(harness: Harness) -> None:
    envelope = {
        "error": {
            "message": "Incorrect API key",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    fake = Recorder(json_response(401, envelope))
    with pytest.raises(AuthenticationError) as caught:
        harness.call(fake, "transcriptions", b"RIFF")
    assert isinstance(caught.value.body, OpenAIErrorEnvelope)
    assert caught.value.body.error.code == "invalid_api_key"
    assert "Incorrect API key" in caught.value.message


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"<html>Bad Gateway</html>", "text/html"), (b"", "text/plain"), (b"[1]", "application/json")],
)
def test_bodies_that_match_no_envelope_are_kept_as_text(
    harness: Harness, content: bytes, content_type: str
) -> None:
    fake = Recorder(httpx.Response(502, content=content, headers={"Content-Type": content_type}))
    with pytest.raises(ProviderHTTPError) as caught:
        harness.call(fake, "generate", "Hi.", {})
    assert caught.value.body == content.decode()
    assert (content.decode() or "(empty body)") in caught.value.message


def test_a_long_error_body_is_shortened_in_the_message(harness: Harness) -> None:
    fake = Recorder(json_response(500, {"detail": "x" * 5000}))
    with pytest.raises(ProviderHTTPError) as caught:
        harness.call(fake, "generate", "Hi.", {})
    assert len(caught.value.message) < 500
    assert isinstance(caught.value.body, ErrorBody)
    assert len(str(caught.value.body.detail)) == 5000


def test_rate_limit_error_carries_retry_after(harness: Harness) -> None:
    fake = Recorder(json_response(429, {"detail": "slow"}, {"Retry-After": "7"}))
    with pytest.raises(RateLimitedError) as caught:
        harness.call(fake, "generate", "Hi.", {}, client_options={"retry": NO_RETRY})
    assert caught.value.retry_after == 7.0
    assert "Retry-After: 7 s" in caught.value.message


def test_health_503_without_a_health_body_is_unavailable(harness: Harness) -> None:
    fake = Recorder(httpx.Response(503, text="upstream down"))
    with pytest.raises(UnavailableError):
        harness.call(fake, "health")


def test_health_503_claiming_healthy_is_unavailable(harness: Harness) -> None:
    body = {"status": "healthy", "model": "m", "device": "cpu"}
    fake = Recorder(json_response(503, body))
    with pytest.raises(UnavailableError):
        harness.call(fake, "health")


# --- A success whose body breaks the contract ----------------------------------------------------


def _generate_with(**changes: object) -> httpx.Response:
    return json_response(200, {**generate_body(), **changes})


@pytest.mark.parametrize(
    ("answer", "clause", "cause_type"),
    [
        (_generate_with(audio="AAAA\nAAAA"), "AUD-1", InvalidBase64Error),
        (_generate_with(audio="AA-_"), "AUD-1", InvalidBase64Error),
        (_generate_with(audio="AAA"), "AUD-1", InvalidBase64Error),
        (_generate_with(audio="AAAA"), "AUD-3", MisalignedLengthError),
        (_generate_with(audio=""), "AUD-3", EmptyAudioError),
        (
            _generate_with(
                audio=base64.b64encode(np.array([0.1, np.nan], np.float32).tobytes()).decode()
            ),
            "AUD-4",
            NonFiniteSamplesError,
        ),
        (
            _generate_with(
                audio=base64.b64encode(np.array([0.1, 1.5], np.float32).tobytes()).decode()
            ),
            "AUD-4",
            OutOfRangeError,
        ),
        (_generate_with(dtype="uint8"), "AUD-2", None),
        (_generate_with(sample_rate=96000), "AUD-5", None),
        (_generate_with(sample_rate=24000.0), "AUD-5", None),
        (json_response(200, {"audio": "AAAA", "dtype": "float32"}), "GEN-2", None),
        (json_response(200, {"audio": 5, "sample_rate": 8000, "dtype": "int16"}), "GEN-2", None),
        (json_response(200, [1, 2, 3]), "GEN-2", None),
        (httpx.Response(200, text="not json"), "GEN-2", None),
    ],
)
def test_a_bad_generate_body_is_a_protocol_error_naming_its_clause(
    harness: Harness, answer: httpx.Response, clause: str, cause_type: type[Exception] | None
) -> None:
    fake = Recorder(answer)
    with pytest.raises(ProtocolError) as caught:
        harness.call(fake, "generate", "Hi.", {})
    error = caught.value
    assert error.clause == clause
    assert error.status == 200
    if cause_type is not None:
        assert type(error.cause) is cause_type
        assert isinstance(error.cause, AudioCodecError)
        assert error.cause.clause == clause
        assert str(error.cause) in error.message
    assert f"breaks {clause}" in error.message
    assert "curl -i" in str(error)


@pytest.mark.parametrize(
    ("method", "args", "body", "clause"),
    [
        ("health", (), {"status": "fine", "model": "m", "device": "cpu"}, "HLT-2"),
        ("health", (), {"status": "healthy", "device": "cpu"}, "HLT-1"),
        (
            "health",
            (),
            {"status": "healthy", "model": "m", "device": "c", "capabilities": {"languages": 3}},
            "HLT-3",
        ),
        ("create_voice_prompt", (b"RIFF",), {"voice_prompt": "opaque"}, "VP-2"),
        ("transcribe", (b"RIFF",), {"transcript": "x"}, "TRN-1"),
        ("transcriptions", (b"RIFF",), {"text": 5}, "OAI-1"),
    ],
)
def test_bad_bodies_of_other_endpoints_name_their_clause(
    harness: Harness, method: str, args: tuple[object, ...], body: object, clause: str
) -> None:
    fake = Recorder(json_response(200, body))
    with pytest.raises(ProtocolError) as caught:
        harness.call(fake, method, *args)
    assert caught.value.clause == clause


def test_verbose_json_without_segments_breaks_oai_3(harness: Harness) -> None:
    fake = Recorder(json_response(200, {"text": "x", "language": "en", "duration": 1.0}))
    with pytest.raises(ProtocolError) as caught:
        harness.call(fake, "transcriptions", b"RIFF", response_format="verbose_json")
    assert caught.value.clause == "OAI-3"
    assert "segments" in caught.value.message


def test_protocol_error_message_does_not_dump_the_audio(harness: Harness) -> None:
    huge = "A" * 400_000 + "!"
    fake = Recorder(_generate_with(audio=huge))
    with pytest.raises(ProtocolError) as caught:
        harness.call(fake, "generate", "Hi.", {})
    assert len(str(caught.value)) < 2000
