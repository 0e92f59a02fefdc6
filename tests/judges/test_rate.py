"""AUD-6's judgement of a declared sample rate, on the engines of its calibration."""

from __future__ import annotations

import pytest

from measurements.aud6_calibration import ENGINES, caught, references_of_the_suite

SLOW = pytest.mark.slow
MODERATE_LIES = [
    (22050, 24000),
    pytest.param(24000, 22050, marks=SLOW),
    pytest.param(44100, 48000, marks=SLOW),
    pytest.param(24000, 32000, marks=SLOW),
]


@pytest.fixture(scope="module")
def steered() -> list:  # type: ignore[type-arg]
    return ENGINES["espeak-steered"]()


@pytest.mark.parametrize(("true_rate", "declared"), MODERATE_LIES)
def test_a_moderate_lie_is_caught_without_a_judge(
    steered: list,
    true_rate: int,
    declared: int,  # type: ignore[type-arg]
) -> None:
    hit, method = caught(steered, references_of_the_suite(), true_rate, declared, judge=False)
    assert hit
    assert method == "pitch against the voice references"


@pytest.mark.parametrize("rate", [22050, *(pytest.param(r, marks=SLOW) for r in (16000, 48000))])
def test_the_truth_is_not_blamed(steered: list, rate: int) -> None:  # type: ignore[type-arg]
    assert caught(steered, references_of_the_suite(), rate, rate, judge=False) == (False, "")


@SLOW
@pytest.mark.parametrize("engine", ["espeak-high", "espeak-child", "synthetic", "recordings"])
def test_other_engines_are_not_blamed_at_their_true_rate(engine: str) -> None:
    clips = ENGINES[engine]()
    assert not caught(clips, references_of_the_suite(), 24000, 24000, judge=False)[0]
