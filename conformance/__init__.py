"""The conformance suite of the Voicebox provider API: ``pytest --provider-url=URL``.

Three layers, top to bottom (ARCHITECTURE.md): ``conformance.plugin`` (the pytest entry point),
``conformance.checks`` (one check per SPEC.md clause, laid out by section),
``conformance.engine`` (session, runner, verdicts, records, reports) and ``conformance.judges``
(offline ASR and speaker judges). The protocol itself is ``voicebox_api``.

This module is the suite's public surface for other programs, such as the report renderer: the
record of a run, the clauses of SPEC.md, and the record in Markdown (one renderer, for
``conformance.md`` and the report, with its GitHub-flavoured Markdown builders and verdict
symbols). Its names load on first use, so that the pytest entry
point (``conformance.plugin``) costs other test runs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from conformance.engine.markdown import (
        record_markdown,
        record_title,
        render_markdown,
        verdict_counts,
    )
    from conformance.engine.record import (
        VERDICT_ORDER,
        CaseResult,
        ConformanceRecord,
        JudgeInfo,
        RequestTally,
        Verdict,
    )
    from conformance.engine.spec import Clause, Level, clause, clauses
    from conformance.engine.symbols import NOT_RUN, VERDICT_SYMBOL, legend, verdict_label
    from voicebox_api import SPEC_VERSION, __version__

_HOMES = {
    **dict.fromkeys(
        [
            "VERDICT_ORDER",
            "CaseResult",
            "ConformanceRecord",
            "JudgeInfo",
            "RequestTally",
            "Verdict",
        ],
        "conformance.engine.record",
    ),
    **dict.fromkeys(["Clause", "Level", "clause", "clauses"], "conformance.engine.spec"),
    **dict.fromkeys(
        ["bold", "cell", "clause_id", "code", "code_block", "details", "readable_json", "table"],
        "conformance.engine.gfm",
    ),
    **dict.fromkeys(
        ["record_markdown", "record_title", "render_markdown", "verdict_counts"],
        "conformance.engine.markdown",
    ),
    **dict.fromkeys(
        ["NOT_RUN", "VERDICT_SYMBOL", "legend", "verdict_label"], "conformance.engine.symbols"
    ),
    **dict.fromkeys(["SPEC_VERSION", "__version__"], "voicebox_api._version"),
}

__all__ = [
    "NOT_RUN",
    "SPEC_VERSION",
    "VERDICT_ORDER",
    "VERDICT_SYMBOL",
    "CaseResult",
    "Clause",
    "ConformanceRecord",
    "JudgeInfo",
    "Level",
    "RequestTally",
    "Verdict",
    "__version__",
    "bold",
    "cell",
    "clause",
    "clause_id",
    "clauses",
    "code",
    "code_block",
    "details",
    "legend",
    "readable_json",
    "record_markdown",
    "record_title",
    "render_markdown",
    "table",
    "verdict_counts",
    "verdict_label",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
