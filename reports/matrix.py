"""The compatibility matrix: which SPEC.md clauses each provider passes, for a pinned Discussion.

Rows are the clauses of the SPEC.md this kit ships (``conformance.clauses()``), columns are
providers, cells are verdict symbols. A record made against another spec version still fills the
clauses it shares; its other IDs are listed below the table instead of silently dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from conformance import NOT_RUN, VERDICT_SYMBOL, ConformanceRecord, Verdict, clauses, legend
from reports.inputs import Loaded
from reports.markdown import bold, cell, clause_id, code, table
from voicebox_api import SPEC_VERSION

__all__ = ["default_labels", "render_matrix"]

_REQUIREMENT_LIMIT = 80


def default_labels(records: Sequence[ConformanceRecord]) -> list[str]:
    """The model (and device) each provider's /health names, numbered where they repeat."""
    base = []
    for record in records:
        health = record.provenance.provider_health or {}
        model = health.get("model") or record.provenance.provider_url
        device = f" ({health['device']})" if health.get("device") else ""
        base.append(f"{model}{device}")
    totals = Counter(base)
    seen: Counter[str] = Counter()
    labels = []
    for label in base:
        seen[label] += 1
        labels.append(f"{label} #{seen[label]}" if totals[label] > 1 else label)
    return labels


def render_matrix(
    records: Sequence[Loaded[ConformanceRecord]],
    labels: Sequence[str] | None = None,
    generated_at: datetime | None = None,
) -> str:
    docs = [item.document for item in records]
    if not docs:
        raise ValueError("the matrix needs at least one conformance record")
    names = list(labels) if labels else default_labels(docs)
    if len(names) != len(docs):
        raise ValueError(f"{len(names)} labels for {len(docs)} records")
    moment = (generated_at or datetime.now(UTC)).astimezone(UTC)
    lines = [
        f"# Provider compatibility: Voicebox Provider API v{SPEC_VERSION}",
        "",
        f"<sub>Made with `python -m reports matrix` on {moment:%Y-%m-%d}. Each column is one "
        "conformance run; rerun yours and post the new record to update it.</sub>",
        "",
        "## Providers",
        "",
        *_providers(records, names),
        "",
        "## Clauses",
        "",
        *_clauses(docs, names),
        "",
        f"<sub>{cell(legend(include_not_run=True))}</sub>",
    ]
    lines += _foreign_ids(docs, names)
    return "\n".join(lines) + "\n"


def _level_score(record: ConformanceRecord, level: str) -> str:
    cases = [c for c in record.cases if c.level == level]
    judged = [c for c in cases if c.verdict not in (Verdict.SKIPPED, Verdict.UNIMPLEMENTED)]
    passed = sum(c.verdict is Verdict.PASS for c in judged)
    return f"{passed}/{len(judged)}" if judged else "—"


def _providers(records: Sequence[Loaded[ConformanceRecord]], names: Sequence[str]) -> list[str]:
    rows = []
    for item, name in zip(records, names, strict=True):
        record = item.document
        p = record.provenance
        result = "✅ passes" if record.passed else "❌ fails"
        rows.append(
            [
                bold(cell(name)),
                result,
                _level_score(record, "MUST"),
                _level_score(record, "SHOULD"),
                f"{p.started_at.astimezone(UTC):%Y-%m-%d}",
                p.kit_version,
                p.spec_version,
                code(item.source),
            ]
        )
    header = [
        "Provider",
        "Result",
        "MUST passed (of checked)",
        "SHOULD passed",
        "Date",
        "Kit",
        "Spec",
        "Record",
    ]
    return table(header, rows, "llrrllll")


def _clauses(docs: Sequence[ConformanceRecord], names: Sequence[str]) -> list[str]:
    verdicts = [{c.id: c.verdict for c in record.cases} for record in docs]
    rows = []
    for clause in clauses():
        cells = [_symbol(found.get(clause.id)) for found in verdicts]
        rows.append(
            [
                clause_id(clause.id),
                clause.level.value,
                cell(clause.text, _REQUIREMENT_LIMIT),
                *cells,
            ]
        )
    header = ["ID", "Level", "Requirement", *(cell(n) for n in names)]
    return table(header, rows, "lll" + "c" * len(names))


def _symbol(verdict: Verdict | None) -> str:
    return NOT_RUN if verdict is None else VERDICT_SYMBOL[verdict]


def _foreign_ids(docs: Sequence[ConformanceRecord], names: Sequence[str]) -> list[str]:
    known = {c.id for c in clauses()}
    lines = []
    for record, name in zip(docs, names, strict=True):
        foreign = sorted({c.id for c in record.cases} - known)
        if foreign:
            lines.append(
                f"- {bold(cell(name))} (spec v{record.provenance.spec_version}) also reports "
                f"clauses this spec does not have: {', '.join(foreign)}."
            )
    return ["", "Not in this SPEC.md:", "", *lines] if lines else []
