"""The items, verdicts and reports of a conformance run.

Loaded by ``conformance.plugin`` only when the suite was asked for. The clauses are collected
by a collector that the session collects like any other, so pytest's counts, ``--collect-only``
and ``-k`` see them. Before the first clause runs, the provider must be ready within
``--conformance-wait``; one that never is ends the run as a usage error (exit code 4), with one
line and no verdicts. A run whose selected clauses all talk to other servers (OAI-* with
``--openai-base-url``, SPEECH-* with ``--speech-url``) does not wait for it. Works with
``--junitxml`` and ``-p xdist``: each worker checks with its own session, and the verdicts travel
to the controller inside the test reports' ``user_properties``.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from conformance.engine.baseline import Baseline, BaselineError, load_baseline
from conformance.engine.options import SuiteOptions
from conformance.engine.readiness import ProviderNotReady, wait_for_provider
from conformance.engine.record import VERDICT_ORDER, CaseResult, Verdict
from conformance.engine.references import ReferenceAudioError, voice_references
from conformance.engine.registry import Check, registered
from conformance.engine.runner import Runner
from conformance.engine.spec import clauses
from voicebox_api import ProviderClient

if TYPE_CHECKING:
    from conformance.engine.session import Session

__all__ = [
    "ConformanceCollector",
    "ConformanceFailure",
    "ConformanceItem",
    "ConformanceRun",
    "format_case",
]

_CASE_PROPERTY = "voicebox_conformance_case"
_COLLECTOR_NAME = "voicebox-conformance"


class ConformanceFailure(Exception):
    """Raised by an item whose verdict fails the run; carries the case for the report."""

    def __init__(self, case: CaseResult) -> None:
        super().__init__(case.reason or case.verdict.value)
        self.case = case


RUN_PLUGIN_NAME = "voicebox-conformance-run"


def _run_of(config: pytest.Config) -> ConformanceRun:
    run: ConformanceRun = config.pluginmanager.getplugin(RUN_PLUGIN_NAME)
    return run


class ConformanceCollector(pytest.Collector):
    """The SPEC.md clauses this run selects, as one collector beside the session's own."""

    def collect(self) -> Iterator[pytest.Item]:
        options = _run_of(self.config).options
        for check in registered().values():
            if options.selects(check.id, check.clause.level.value):
                yield ConformanceItem.from_parent(self, name=check.id, check=check)


class ConformanceItem(pytest.Item):
    """One SPEC.md clause, checked against the provider."""

    def __init__(self, *, check: Check, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.add_marker(pytest.mark.conformance)
        self.add_marker(getattr(pytest.mark, check.clause.level.value.lower()))

    def runtest(self) -> None:
        run = _run_of(self.config)
        case = run.runner().run(self.check)
        self.user_properties.append((_CASE_PROPERTY, case.model_dump_json()))
        if case.verdict is Verdict.FAIL and case.known_failure:
            pytest.xfail(f"known failure: {case.known_failure}")
        failing = case.verdict is Verdict.FAIL or (
            case.verdict is Verdict.NON_STRICT and run.options.strict
        )
        if failing:
            raise ConformanceFailure(case)
        if case.verdict in (Verdict.SKIPPED, Verdict.UNIMPLEMENTED):
            hint = f" (to run it: {case.enable_hint})" if case.enable_hint else ""
            pytest.skip(f"{case.verdict.value}: {case.reason}{hint}")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None
    ) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            return format_case(excinfo.value.case)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return ("SPEC.md", None, f"{self.check.id} ({self.check.clause.level.value})")


def format_case(case: CaseResult) -> str:
    """The h2spec-style block printed for a failing case."""
    lines = [
        f"{case.id} ({case.level}) [{case.verdict.value}] — {case.section}",
        f"  Requirement: {case.requirement}",
    ]
    if case.expected is not None:
        lines += [f"  Expected: {case.expected}", f"  Actual:   {case.actual}"]
    elif case.reason:
        lines.append(f"  Reason:   {case.reason}")
    if case.curl:
        lines.append("  Reproduce:")
        lines += [f"    {line}" for line in case.curl.splitlines()]
    return "\n".join(lines)


class ConformanceRun:
    """State of one conformance run: registered as a plugin only when a provider URL is given."""

    def __init__(self, config: pytest.Config, options: SuiteOptions, baseline: Baseline) -> None:
        self.config = config
        self.options = options
        self.baseline = baseline
        self.cases: dict[str, CaseResult] = {}
        self.started_at = datetime.now(UTC)
        self._runner: Runner | None = None

    @classmethod
    def start(cls, config: pytest.Config, options: SuiteOptions) -> ConformanceRun:
        try:
            voice_references(options.reference_audio, options.reference_text)
        except ReferenceAudioError as exc:
            raise pytest.UsageError(str(exc)) from None
        baseline = Baseline()
        if options.known_failures is not None:
            try:
                baseline = load_baseline(options.known_failures, {c.id for c in clauses()})
            except BaselineError as exc:
                raise pytest.UsageError(str(exc)) from None
        return cls(config, options, baseline)

    def runner(self) -> Runner:
        if self._runner is None:
            from conformance.engine.session import Session

            session = Session.open(self.options)
            self.config.add_cleanup(session.close)
            self._runner = Runner(session, self.baseline, replay=self.options.replay)
        return self._runner

    def session_if_open(self) -> Session | None:
        return self._runner.session if self._runner else None

    # --- pytest hooks --------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        if isinstance(collector, pytest.Session) and report.passed:
            suite = ConformanceCollector.from_parent(
                collector, name=_COLLECTOR_NAME, nodeid=_COLLECTOR_NAME
            )
            report.result.append(suite)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self._will_judge(session):
            self._require_ready()

    def _will_judge(self, session: pytest.Session) -> bool:
        """Whether clauses run here: selected, not --collect-only; an xdist controller checks
        once for all its workers, which then do not."""
        if self.config.option.collectonly or hasattr(self.config, "workerinput"):
            return False
        if self.config.pluginmanager.has_plugin("dsession"):
            return True
        return any(
            isinstance(item, ConformanceItem) and self._needs_provider(item.check.id)
            for item in session.items
        )

    def _needs_provider(self, clause_id: str) -> bool:
        """Whether a clause talks to the provider at --provider-url: the OpenAI transcription
        and speech clauses talk to their own servers when those are given."""
        if clause_id.startswith("OAI-") and self.options.openai_base_url:
            return False
        return not (clause_id.startswith("SPEECH-") and self.options.speech_url)

    def _require_ready(self) -> None:
        wait_s = self.options.wait_s
        with ProviderClient(settings=self.options.client_settings()) as client:
            try:
                wait_for_provider(client, wait_s)
            except ProviderNotReady as exc:
                raise pytest.UsageError(
                    f"voicebox-conformance: the provider at {self.options.provider_url} was not "
                    f"ready within --conformance-wait {wait_s:g} s ({exc}); no case was run"
                ) from None

    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, str] | None:
        case = _case_of(report)
        if case is None or report.when != "call" or not report.passed:
            return None
        words = {
            Verdict.NON_STRICT: ("non-strict", "N", "NON-STRICT"),
            Verdict.INFO: ("info", "i", "INFO"),
            Verdict.FLAKY: ("flaky", "f", "FLAKY"),
        }
        return words.get(case.verdict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case = _case_of(report)
        if case is not None:
            self.cases[case.id] = case

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.cases:
            return
        write = terminalreporter.write_line
        terminalreporter.section("voicebox conformance (SPEC.md v0.2)")
        for case in sorted(self.cases.values(), key=_display_order):
            note = f" — {case.reason}" if case.reason and case.verdict is not Verdict.PASS else ""
            write(f"{case.verdict.value:<13} {case.id:<7} {case.level:<6}{note}"[:220])
        counts = _counts(self.cases.values())
        write(", ".join(f"{n} {v.value}" for v, n in counts.items() if n))
        write(f"requests sent: {sum(c.requests for c in self.cases.values())}")
        for entry in self.baseline.expired(datetime.now(UTC).date()):
            write(f"expired known failure {entry.id} ({entry.expires}): no longer excused")
        if self.options.report_dir:
            write(f"report: {self.options.report_dir / 'conformance.json'}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput") or not self.options.report_dir or not self.cases:
            return
        from conformance.engine.report import build_record, write_reports

        write_reports(build_record(self, datetime.now(UTC)), self.options.report_dir)


def _case_of(report: pytest.TestReport | pytest.CollectReport) -> CaseResult | None:
    for name, value in getattr(report, "user_properties", ()):
        if name == _CASE_PROPERTY:
            return CaseResult.model_validate(json.loads(str(value)))
    return None


def _display_order(case: CaseResult) -> tuple[int, int]:
    order = {c.id: i for i, c in enumerate(clauses())}
    return VERDICT_ORDER.index(case.verdict), order.get(case.id, 0)


def _counts(cases: Iterable[CaseResult]) -> dict[Verdict, int]:
    counts = dict.fromkeys(Verdict, 0)
    for case in cases:
        counts[case.verdict] += 1
    return counts
