"""The cost section: prices by label, the arithmetic, the sustainable run, the CLI option."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.__main__ import main
from reports.inputs import load_inputs
from reports.redact import Redactor
from reports.render import RenderOptions, render_report
from reports.sections.cost import parse_gpu_price
from tests.reports.conftest import GENERATED_AT, fixture_paths


def rendered(tmp_path: Path, prices: dict[str, float]) -> str:
    inputs = load_inputs(
        fixture_paths(("run-provider-1.json", "run-provider-4.json", "run-provider-8.json")),
        fixture_paths(("run-reference-2.json",)),
        Redactor(),
    )
    options = RenderOptions(generated_at=GENERATED_AT, kit_version="0.2.0", gpu_prices=prices)
    report = render_report(inputs, tmp_path / "out", options)
    return report.markdown.read_text(encoding="utf-8")


def test_no_price_no_section(tmp_path: Path) -> None:
    assert "Cost per audio-hour" not in rendered(tmp_path, {})


def test_cost_is_price_over_audio_throughput(tmp_path: Path) -> None:
    text = rendered(tmp_path, {"provider": 3.1305, "reference": 1.0})
    section = text.split("### Cost per audio-hour", 1)[1].split("\n## ", 1)[0]
    # run-provider-1 made 3.1305 audio s/s: at $3.1305/h one audio-hour costs $1.00.
    assert "| 3.13 | 3.13 | 453 | 605 | $1.00 |" in section
    # run-provider-8 made the most audio (15.03 s/s) but is INVALID (8 s long): priced, not
    # the sustainable figure; run-provider-4 (11.85 s/s, valid) is.
    assert "| ❌ **INVALID** | 3.13 | 15.03 |" in section
    assert "The provider at its sustainable throughput (11.85 audio s/s" in section
    assert "The reference at its sustainable throughput" in section


def test_a_run_label_wins_over_the_series(tmp_path: Path) -> None:
    text = rendered(tmp_path, {"provider": 100.0, "open-loop generate 1/s": 0.0})
    assert "| 0.00 | 3.13 | 453 | 605 | $0.0000 |" in text


def test_prices_matching_nothing_are_said(tmp_path: Path) -> None:
    assert "No run matches the GPU prices given (gpu-z)" in rendered(tmp_path, {"gpu-z": 1.0})


@pytest.mark.parametrize("text", ["provider", "=2", "provider=cheap", "provider=-1", "p=inf"])
def test_bad_prices_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"price|LABEL"):
        parse_gpu_price(text)


def test_label_may_hold_an_equals_sign() -> None:
    assert parse_gpu_price("a=b=2.5") == ("a=b", 2.5)


def test_cli_takes_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = str(fixture_paths(("run-provider-1.json",))[0])
    assert main([run, "--out", str(tmp_path), "--gpu-price", "provider=2.0"]) == 0
    assert "$0.64" in (tmp_path / "report.md").read_text(encoding="utf-8")  # 2.0 / 3.1305
    with pytest.raises(SystemExit) as usage:
        main([run, "--out", str(tmp_path), "--gpu-price", "provider"])
    assert usage.value.code == 2
    assert "LABEL=USD_PER_HOUR" in capsys.readouterr().err
