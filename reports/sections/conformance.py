"""The conformance section: each record as the suite renders it (``conformance.record_markdown``),
then the verdict legend."""

from __future__ import annotations

from collections.abc import Sequence

from conformance import ConformanceRecord, legend, record_markdown
from reports.inputs import Loaded
from reports.markdown import cell

__all__ = ["conformance_section"]


def conformance_section(records: Sequence[Loaded[ConformanceRecord]]) -> list[str]:
    lines = ["## Conformance", ""]
    if not records:
        return [*lines, "No conformance record was given.", ""]
    for item in records:
        note = " (reference)" if item.role == "baseline" else ""
        lines += record_markdown(item.document, level=3, note=note, source=item.source)
    lines += [f"<sub>{cell(legend())}</sub>", ""]
    return lines
