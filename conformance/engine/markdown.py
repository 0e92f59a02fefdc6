"""A conformance record in Markdown: the verdict table, failures first, and each problem in
detail. One renderer, for ``conformance.md`` (``render_markdown``) and for the report's
conformance section (``record_markdown``, called by ``python -m reports``).
"""

from __future__ import annotations

from conformance.engine.gfm import (
    bold,
    cell,
    clause_id,
    code,
    code_block,
    details,
    readable_json,
    table,
)
from conformance.engine.record import VERDICT_ORDER, CaseResult, ConformanceRecord, Verdict
from conformance.engine.symbols import VERDICT_SYMBOL, legend, verdict_label

__all__ = ["record_markdown", "record_title", "render_markdown", "verdict_counts"]

_NOTE_LIMIT = 160
_EVIDENCE_LIMIT = 1500
_COLLAPSED_LIMIT = 100
# Verdicts listed in collapsed groups under the main table: (title, whether a note column helps).
_COLLAPSED = {
    Verdict.UNIMPLEMENTED: ("unimplemented (declared lacking)", True),
    Verdict.SKIPPED: ("skipped", True),
    Verdict.PASS: ("passed", False),
}


def render_markdown(record: ConformanceRecord) -> str:
    """``conformance.md``: what a provider author reads right after a run."""
    p = record.provenance
    lines = [
        "# Conformance",
        "",
        f"voicebox-provider-kit {p.kit_version}, started {p.started_at:%Y-%m-%d %H:%M} UTC.",
        "",
        *record_markdown(record, level=2),
        f"<sub>{cell(legend())}</sub>",
    ]
    return "\n".join(lines) + "\n"


def record_markdown(
    record: ConformanceRecord, *, level: int = 3, note: str = "", source: str | None = None
) -> list[str]:
    """The record under a heading of ``level``: ``note`` follows the provider's URL in it, and
    ``source`` (where the record was read from) closes the summary line."""
    p = record.provenance
    strict = "yes" if p.options.get("strict") else "no"
    where = f" Source: {code(source)}." if source else ""
    lines = [
        f"{'#' * level} {code(p.provider_url)}{note}: {record_title(record)}",
        "",
        f"{len(record.cases)} cases of Provider API v{p.spec_version} in {p.duration_s:.1f} s, "
        f"{record.requests.total} requests; strict: {bold(strict)}.{where}",
        "",
        verdict_counts(record),
        "",
    ]
    if p.provider_health_error:
        lines += [f"`/health` could not be read: {cell(p.provider_health_error)}", ""]
    ordered = sorted(record.cases, key=lambda c: VERDICT_ORDER.index(c.verdict))
    shown = [c for c in ordered if c.verdict not in _COLLAPSED]
    if shown:
        lines += table(["ID", "Verdict", "Level", "Requirement", "Note"], [_row(c) for c in shown])
    for verdict, (title, with_note) in _COLLAPSED.items():
        group = [c for c in ordered if c.verdict is verdict]
        if group:
            lines += ["", *_collapsed(verdict, title, group, with_note)]
    problems = [c for c in ordered if c.verdict.is_problem]
    if problems:
        lines += ["", f"{'#' * (level + 1)} Failures and warnings ({len(problems)})", ""]
        for case in problems:
            lines += [*_problem(case), ""]
    return [*lines, ""]


def record_title(record: ConformanceRecord) -> str:
    return f"{'✅ PASSED' if record.passed else '❌ FAILED'}"


def verdict_counts(record: ConformanceRecord) -> str:
    counts = {v: sum(c.verdict is v for c in record.cases) for v in VERDICT_ORDER}
    return " · ".join(f"{VERDICT_SYMBOL[v]} {n} {v.value}" for v, n in counts.items() if n)


def _collapsed(verdict: Verdict, title: str, cases: list[CaseResult], with_note: bool) -> list[str]:
    header = ["ID", "Level", "Requirement", *(["Note"] if with_note else [])]
    rows = [
        [
            clause_id(c.id),
            c.level,
            cell(c.requirement, _COLLAPSED_LIMIT),
            *([cell(_note(c), _NOTE_LIMIT)] if with_note else []),
        ]
        for c in cases
    ]
    noun = "clause" if len(cases) == 1 else "clauses"
    return details(f"{VERDICT_SYMBOL[verdict]} {len(cases)} {noun} {title}", table(header, rows))


def _row(case: CaseResult) -> list[str]:
    return [
        clause_id(case.id),
        verdict_label(case.verdict),
        case.level,
        cell(case.requirement),
        cell(_note(case), _NOTE_LIMIT),
    ]


def _note(case: CaseResult) -> str:
    if case.known_failure:
        return f"known failure: {case.known_failure}"
    note = case.reason or ""
    if case.verdict is Verdict.SKIPPED and case.enable_hint:
        stop = "" if not note or note.endswith((".", "!", "?")) else "."
        note = f"{note}{stop} To run it: {case.enable_hint}".strip()
    if case.verdict.is_problem and case.actual and not note:
        note = f"actual: {case.actual}"
    return note


def _problem(case: CaseResult) -> list[str]:
    summary = f"{VERDICT_SYMBOL[case.verdict]} {case.id} · {case.level} · {case.verdict.value}: "
    summary += case.requirement
    body = [f"> {bold('Requirement')} ({cell(case.section)}): {cell(case.requirement)}", ""]
    facts = [
        ("Expected", case.expected),
        ("Actual", case.actual),
        ("Reason", case.reason),
        ("Known failure", case.known_failure),
    ]
    body += [f"- {bold(name)}: {cell(value)}" for name, value in facts if value]
    plural = "" if case.requests == 1 else "s"
    body.append(f"- {bold('Time')}: {case.duration_s:.2f} s, {case.requests} request{plural}")
    if case.curl:
        body += [
            "",
            "Reproduce (the key is redacted; put yours back):",
            "",
            *code_block(case.curl, "sh"),
        ]
    if case.evidence:
        evidence = readable_json(case.evidence)
        if len(evidence) > _EVIDENCE_LIMIT:
            evidence = (
                evidence[:_EVIDENCE_LIMIT]
                + "\n… (truncated; the full evidence is in the JSON record)"
            )
        body += ["", "Evidence:", "", *code_block(evidence, "json")]
    return details(summary, body)
