"""Reports: Markdown and plots from conformance records and benchmark results.

``python -m reports`` renders a GitHub-Discussions-ready ``report.md`` with its PNG figures,
and ``python -m reports matrix`` the compatibility matrix of several providers. The one-command
demo that produces such a report lives with orchestration (``python -m orchestration.demo``).
"""

from reports.inputs import InputError, ReportInputs, load_inputs
from reports.matrix import render_matrix
from reports.redact import Redactor
from reports.render import RenderedReport, RenderOptions, render_report

__all__ = [
    "InputError",
    "Redactor",
    "RenderOptions",
    "RenderedReport",
    "ReportInputs",
    "load_inputs",
    "render_matrix",
    "render_report",
]
