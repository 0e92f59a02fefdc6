"""SPEC.md parses into clauses, and openapi.json is generated from the models and valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from conformance.engine.spec import Level, clauses, parse
from voicebox_api import openapi

ROOT = Path(__file__).resolve().parent.parent


def test_committed_openapi_matches_the_models() -> None:
    committed = (ROOT / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi.render(), (
        "openapi.json drifted from voicebox_api/_models.py; "
        "run `python -m voicebox_api.openapi > openapi.json`"
    )


def test_openapi_document_is_valid_openapi_3_1() -> None:
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_clause_has_an_id_a_level_and_one_sentence() -> None:
    found = clauses()
    assert len(found) >= 60
    for item in found:
        assert item.level in set(Level)
        assert item.text.endswith("."), item.id
        assert item.section, item.id


def test_duplicate_clause_ids_are_refused() -> None:
    text = "## S\n- **GEN-1** · MUST · One.\n- **GEN-1** · SHOULD · Two.\n"
    with pytest.raises(ValueError, match="GEN-1"):
        parse(text)
