"""Reading inputs (kind detection, folders, clear errors), the matrix, and the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conformance.engine.spec import clauses
from reports.__main__ import main
from reports.environment import EnvironmentSnapshot
from reports.inputs import InputError, load_inputs
from reports.matrix import render_matrix
from tests.reports import gfm
from tests.reports.conftest import GENERATED_AT, fixture_paths
from tests.reports.make_fixtures import FIXTURES, write
from tests.reports.test_render import check_golden

# --- Inputs -----------------------------------------------------------------------------------


def test_each_kind_is_detected_from_the_document() -> None:
    inputs = load_inputs([FIXTURES])
    assert len(inputs.conformance) == 2
    assert len(inputs.runs) == 5
    assert len(inputs.loadbalance) == len(inputs.selfchecks) == len(inputs.stalls) == 1
    assert len(inputs.environments) == 2
    assert {item.role for item in inputs.everything()} == {"provider"}


def test_a_folder_skips_json_that_is_not_a_document(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "run-provider-1.json", tmp_path)
    (tmp_path / "package.json").write_text('{"name": "x"}')
    (tmp_path / "broken.json").write_text("{")
    inputs = load_inputs([tmp_path])
    assert len(inputs.runs) == 1
    assert sorted(inputs.skipped) == ["broken.json", "package.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not readable JSON"),
        ('{"kind": "weather"}', "kind 'weather' is not a document of this kit"),
        ("[1, 2]", "kind None is not a document of this kit"),
        ('{"kind": "run", "schema_version": "1.0"}', "not a valid run document"),
        ('{"kind": "run", "schema_version": "3.0"}', "schema_version '3.0' is not readable"),
        ('{"kind": "conformance"}', "not a valid conformance document"),
    ],
)
def test_a_bad_file_gets_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "input.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as caught:
        load_inputs([path])
    assert str(caught.value).startswith("input.json: ")
    assert str(tmp_path) not in str(caught.value)


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        load_inputs([tmp_path / "nope.json"])


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no conformance, benchmark or environment document"):
        load_inputs([tmp_path])


# --- Matrix -----------------------------------------------------------------------------------


def _records() -> list[Path]:
    return fixture_paths(("conformance-provider.json", "conformance-reference.json"))


def test_matrix_matches_golden_and_is_well_formed(tmp_path: Path) -> None:
    inputs = load_inputs(_records())
    text = render_matrix(inputs.conformance, generated_at=GENERATED_AT)
    assert gfm.all_problems(text, tmp_path) == []
    check_golden("matrix.md", text)


def test_matrix_has_a_row_per_clause_and_a_column_per_provider() -> None:
    inputs = load_inputs(_records())
    text = render_matrix(inputs.conformance, ["GPU box", "Reference"], GENERATED_AT)
    parsed = gfm.parse(text)
    shapes = gfm.parsed_table_shapes(parsed)
    clause_table = shapes[1]
    assert len(clause_table) == 1 + len(clauses())
    assert set(clause_table) == {3 + 2}
    assert "| Requirement | GPU box | Reference |" in text
    vp8 = next(line for line in text.splitlines() if line.startswith("| **VP-\u20608**"))
    assert vp8.endswith("| ❌ | ✅ |")
    assert "| ➖ | ✅ |" in text


def test_matrix_marks_clauses_a_record_lacks_and_lists_foreign_ones() -> None:
    inputs = load_inputs(_records()[:1])
    record = inputs.conformance[0].document
    record.cases = [c for c in record.cases if c.id != "GEN-8"]
    record.cases.append(record.cases[0].model_copy(update={"id": "NEW-1"}))
    text = render_matrix(inputs.conformance, generated_at=GENERATED_AT)
    gen8 = next(line for line in text.splitlines() if "GEN-\u20608" in line)
    assert gen8.endswith("| · |")
    assert "also reports clauses this spec does not have: NEW-1" in text


def test_matrix_needs_as_many_labels_as_records() -> None:
    inputs = load_inputs(_records())
    with pytest.raises(ValueError, match="1 labels for 2 records"):
        render_matrix(inputs.conformance, ["only one"])


# --- Command line -----------------------------------------------------------------------------


def test_render_prints_where_the_report_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [str(p) for p in fixture_paths(("run-provider-1.json", "run-provider-2.json"))]
        + ["--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert f"Report: {out.resolve() / 'report.md'}" in printed
    assert (out / "latency-cdf.png").is_file()


def test_render_with_a_baseline_compares(tmp_path: Path) -> None:
    args = [
        str(fixture_paths(("run-provider-2.json",))[0]),
        "--baseline",
        str(fixture_paths(("run-reference-2.json",))[0]),
        "--out",
        str(tmp_path),
    ]
    assert main(["render", *args]) == 0
    assert "## Baseline comparison" in (tmp_path / "report.md").read_text()


def test_bad_input_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "weather"}')
    assert main([str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "error: bad.json: kind 'weather'" in capsys.readouterr().err


def test_matrix_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", *map(str, _records()), "--label", "A", "--label", "B"]) == 0
    assert "| ID | Level | Requirement | A | B |" in capsys.readouterr().out


def test_matrix_refuses_inputs_without_records(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", str(fixture_paths(("run-provider-1.json",))[0])]) == 2
    assert "no conformance record" in capsys.readouterr().err


def test_environment_snapshot_is_a_valid_document(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    assert main(["environment", "--out", str(out)]) == 0
    snapshot = EnvironmentSnapshot.model_validate(json.loads(out.read_text()))
    assert snapshot.cpu_count >= 1
    assert snapshot.packages["voicebox-provider-kit"] is not None
    assert load_inputs([out]).environments[0].document == snapshot


def test_the_committed_fixtures_are_what_make_fixtures_writes(tmp_path: Path) -> None:
    """The fixtures stay valid documents of the current formats, and nobody hand-edits them."""
    for written in write(tmp_path):
        committed = FIXTURES / written.name
        assert written.read_text() == committed.read_text(), (
            f"{written.name} is stale: run python -m tests.reports.make_fixtures"
        )


def test_title_and_notes_are_shown(tmp_path: Path) -> None:
    source = str(fixture_paths(("run-provider-1.json",))[0])
    args = [source, "--out", str(tmp_path), "--title", "My GPU box", "--note", "Busy *machine*."]
    assert main(args) == 0
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# My GPU box\n")
    assert "> [!NOTE]\n> Busy *machine*." in text
