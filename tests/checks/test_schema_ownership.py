"""The checks judge bodies through the protocol's models; each field error has one owner."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from conformance.checks import health
from conformance.checks._schema import error_body_errors, generate_errors, health_errors
from conformance.engine.outcome import Blocked, Failed
from tests.checks.fakes import json_answer, session_over
from voicebox_api import ErrorBody, GenerateResponse, HealthResponse

HEALTHY = {"status": "healthy", "model": "m", "device": "cpu", "api_version": "0.2"}
GENERATED = {"audio": "AAAA", "sample_rate": 24000, "dtype": "float32"}


@pytest.mark.parametrize(
    ("change", "owner"),
    [
        ({"status": 5}, "HLT-1"),
        ({"device": None}, "HLT-1"),
        ({"status": "ok"}, "HLT-2"),
        ({"capabilities": {"languages": "en"}}, "HLT-3"),
        ({"api_version": "v0.2"}, "VER-1"),
        ({"api_version": "٠.٢"}, "VER-1"),
    ],
)
def test_health_errors_go_to_their_clause(change: dict[str, Any], owner: str) -> None:
    assert list(health_errors({**HEALTHY, **change})) == [owner]


@pytest.mark.parametrize(
    ("change", "owner"),
    [
        ({"audio": None}, "GEN-2"),
        ({"sample_rate": "24000"}, "GEN-2"),
        ({"sample_rate": True}, "GEN-2"),
        ({"dtype": 4}, "GEN-2"),
        ({"dtype": "float"}, "AUD-2"),
        ({"sample_rate": 4000}, "AUD-5"),
        ({"sample_rate": 96000}, "AUD-5"),
    ],
)
def test_generate_errors_go_to_their_clause(change: dict[str, Any], owner: str) -> None:
    assert list(generate_errors({**GENERATED, **change})) == [owner]


def test_a_version_in_other_digits_fails_ver_1() -> None:
    s = session_over(lambda request: json_answer(200, {**HEALTHY, "api_version": "٠.٢"}))
    with pytest.raises(Failed):
        health.health_names_the_api_version(s)


def test_a_status_of_the_wrong_type_is_hlt_1s_alone() -> None:
    s = session_over(lambda request: json_answer(200, {**HEALTHY, "status": 1}))
    with pytest.raises(Failed):
        health.health_has_status_model_device(s)
    with pytest.raises(Blocked):
        health.health_status_matches_http_code(s)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def _valid(model: Any, body: Any) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


@given(st.fixed_dictionaries({}, optional={k: JSON | st.just(v) for k, v in HEALTHY.items()}))
def test_the_checks_and_the_health_model_agree(body: dict[str, Any]) -> None:
    assert (not health_errors(body)) == _valid(HealthResponse, body)


@given(st.fixed_dictionaries({}, optional={k: JSON | st.just(v) for k, v in GENERATED.items()}))
def test_the_checks_and_the_generate_model_agree(body: dict[str, Any]) -> None:
    assert (not generate_errors(body)) == _valid(GenerateResponse, body)


@given(st.fixed_dictionaries({}, optional={"detail": JSON}))
def test_the_checks_and_the_error_model_agree(body: dict[str, Any]) -> None:
    assert (not error_body_errors(body)) == _valid(ErrorBody, body)


def test_an_issue_location_must_be_strings_and_integers() -> None:
    body = {"detail": [{"loc": ["body", 1.5], "msg": "bad", "type": "x"}]}
    assert list(error_body_errors(body)) == ["ERR-1"]
