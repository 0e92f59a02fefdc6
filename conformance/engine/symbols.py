"""The symbols for verdicts, the same in every table, in the legend, in conformance.md and in
the report."""

from __future__ import annotations

from typing import Final

from conformance.engine.record import VERDICT_ORDER, Verdict

__all__ = ["NOT_RUN", "VERDICT_SYMBOL", "legend", "verdict_label"]

VERDICT_SYMBOL: Final[dict[Verdict, str]] = {
    Verdict.PASS: "✅",
    Verdict.FAIL: "❌",
    Verdict.NON_STRICT: "⚠️",
    Verdict.FLAKY: "🔀",
    Verdict.UNIMPLEMENTED: "➖",
    Verdict.SKIPPED: "⏭️",
    Verdict.INFO: "ℹ️",
}
NOT_RUN: Final = "·"
WORD_JOINER: Final = "\u2060"

_MEANING: Final[dict[Verdict, str]] = {
    Verdict.FAIL: "a MUST is broken",
    Verdict.NON_STRICT: "a SHOULD is missed",
    Verdict.FLAKY: "failed, then passed on replay",
    Verdict.UNIMPLEMENTED: "an optional capability the provider declares lacking",
    Verdict.SKIPPED: "not checked in this run (see the note)",
    Verdict.INFO: "a MAY, reported for information",
    Verdict.PASS: "passed",
}


def verdict_label(verdict: Verdict) -> str:
    """Symbol and name; a WORD JOINER keeps NON-STRICT on one line in a narrow column."""
    return f"{VERDICT_SYMBOL[verdict]} {verdict.value.replace('-', '-' + WORD_JOINER)}"


def legend(include_not_run: bool = False) -> str:
    items = [f"{VERDICT_SYMBOL[v]} {v.value}: {_MEANING[v]}" for v in VERDICT_ORDER]
    if include_not_run:
        items.append(f"{NOT_RUN} not in this record")
    return " · ".join(items)
