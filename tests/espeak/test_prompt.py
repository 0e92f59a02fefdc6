"""The voice prompt: JSON that survives round trips, and strict refusal of everything else."""

from __future__ import annotations

import contextlib
import copy
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_server.backends.base import BackendError, VoicePromptError
from reference_server.backends.espeak.prompt import parse_prompt


def test_prompt_is_small_versioned_json(prompts: tuple[dict[str, Any], dict[str, Any]]) -> None:
    for prompt in prompts:
        assert prompt["engine"] == "espeak"
        assert prompt["version"] == 1
        assert set(prompt["features"]) == {
            "f0_median_hz",
            "f0_spread_semitones",
            "modulation_rate_hz",
            "spectrum_db",
            "voiced_seconds",
        }
        assert len(json.dumps(prompt)) < 2_000


def test_prompt_survives_json_round_trips(
    prompts: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    for prompt in prompts:
        again = json.loads(json.dumps(json.loads(json.dumps(prompt))))
        assert parse_prompt(again) == parse_prompt(prompt)


def test_integral_numbers_are_accepted_as_floats(
    prompts: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # JavaScript and some JSON libraries write 120.0 as 120.
    prompt = copy.deepcopy(prompts[0])
    prompt["features"]["f0_median_hz"] = 120
    prompt["features"]["spectrum_db"] = [
        round(level) for level in prompt["features"]["spectrum_db"]
    ]
    assert parse_prompt(prompt).f0_median_hz == 120.0


def _mutated(prompt: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(prompt)
    target = result
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return result


_DELETE = object()

BAD_PROMPTS = [
    (("engine",), "qwen"),
    (("engine",), _DELETE),
    (("version",), 2),
    (("version",), True),
    (("version",), "1"),
    (("features",), _DELETE),
    (("features",), []),
    (("features", "f0_median_hz"), math.nan),
    (("features", "f0_median_hz"), math.inf),
    (("features", "f0_median_hz"), 5.0),
    (("features", "f0_median_hz"), 5000.0),
    (("features", "f0_median_hz"), "120"),
    (("features", "f0_median_hz"), True),
    (("features", "f0_median_hz"), None),
    (("features", "f0_spread_semitones"), -1.0),
    (("features", "modulation_rate_hz"), 50.0),
    (("features", "voiced_seconds"), 0.0),
    (("features", "voiced_seconds"), _DELETE),
    (("features", "spectrum_db"), [0.0] * 23),
    (("features", "spectrum_db"), [0.0] * 25),
    (("features", "spectrum_db"), [1e9] * 24),
    (("features", "spectrum_db"), "flat"),
    (("features", "extra"), 1.0),
    (("speaker_embedding",), [0.1, 0.2]),
]


@pytest.mark.parametrize(("path", "value"), BAD_PROMPTS)
def test_anything_else_is_refused(
    prompts: tuple[dict[str, Any], dict[str, Any]], path: tuple[str, ...], value: Any
) -> None:
    with pytest.raises(VoicePromptError):
        parse_prompt(_mutated(prompts[0], path, value))


def test_errors_name_the_member_but_never_echo_the_input(
    prompts: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    prompt = _mutated(prompts[0], ("features", "/etc/passwd"), "/var/secret")
    prompt["features"]["f0_median_hz"] = 98765.4321
    with pytest.raises(VoicePromptError) as error:
        parse_prompt(prompt)
    message = str(error.value)
    assert "f0_median_hz" in message
    assert "98765" not in message
    assert "/etc/passwd" not in message
    assert "/var/secret" not in message
    assert isinstance(error.value, BackendError)  # answered 422 by the HTTP layer


@pytest.mark.parametrize("prompt", [None, [], "espeak", 1, {}, {"engine": "espeak"}])
def test_non_prompts_are_refused(prompt: Any) -> None:
    with pytest.raises(VoicePromptError):
        parse_prompt(prompt)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["engine", "version", "features", "x"]) | st.text(max_size=8),
        json_values,
        max_size=5,
    )
)
def test_arbitrary_json_is_parsed_or_refused_cleanly(prompt: dict[str, Any]) -> None:
    with contextlib.suppress(VoicePromptError):
        parse_prompt(prompt)


@settings(max_examples=100, deadline=None)
@given(
    features=st.fixed_dictionaries(
        {
            "f0_median_hz": st.floats(allow_nan=True, allow_infinity=True) | json_values,
            "f0_spread_semitones": st.floats(-5, 30) | json_values,
            "modulation_rate_hz": st.floats(-1, 20),
            "spectrum_db": st.lists(st.floats(), min_size=22, max_size=26) | json_values,
            "voiced_seconds": st.floats(-1, 40),
        }
    )
)
def test_nearly_valid_prompts_are_parsed_or_refused_cleanly(features: dict[str, Any]) -> None:
    try:
        parsed = parse_prompt({"engine": "espeak", "version": 1, "features": features})
    except VoicePromptError:
        return
    assert math.isfinite(parsed.f0_median_hz)
    assert all(math.isfinite(level) for level in parsed.spectrum_db)
