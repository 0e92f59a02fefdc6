"""The provenance section: versions, the provider's /health, machines, seeds, times, commands."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from benchmarks.results import ClientHost, LoadBalanceReport, RunResult
from reports.environment import KEY_PACKAGES, EnvironmentSnapshot
from reports.inputs import Loaded, ReportInputs
from reports.markdown import cell, code, code_block, details, readable_json, table

__all__ = ["provenance_section"]

_ROLE = {"provider": "provider", "baseline": "reference"}


def provenance_section(inputs: ReportInputs) -> list[str]:
    lines = ["## Provenance", "", *_documents(inputs), ""]
    lines += _health(inputs)
    lines += _servers(inputs.environments)
    lines += _clients(inputs)
    lines += _conformance_runs(inputs)
    lines += _bench_runs(inputs)
    return lines


def _utc(moment: datetime | float) -> str:
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _documents(inputs: ReportInputs) -> list[str]:
    rows = []
    for record in inputs.conformance:
        cp = record.document.provenance
        rows.append(
            [
                code(record.source),
                "conformance",
                _ROLE[record.role],
                "pytest plugin",
                code(cp.provider_url),
                _utc(cp.started_at),
                f"{cp.duration_s:.1f} s",
                cp.kit_version,
                cp.spec_version,
            ]
        )
    for item in inputs.benchmark_documents():
        p = item.document.provenance
        rows.append(
            [
                code(item.source),
                item.document.kind,
                _ROLE[item.role],
                code(p.tool),
                code(p.target),
                _utc(p.started_at),
                f"{p.ended_at - p.started_at:.1f} s",
                p.kit_version,
                p.spec_version,
            ]
        )
    for env in inputs.environments:
        rows.append(
            [
                code(env.source),
                "environment",
                _ROLE[env.role],
                "reports environment",
                cell(env.document.hostname),
                _utc(env.document.captured_at),
                "—",
                env.document.kit_version,
                "—",
            ]
        )
    header = ["Source", "Kind", "Role", "Tool", "Target", "Started", "Duration", "Kit", "Spec"]
    return ["### Documents", "", *table(header, rows)]


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _health(inputs: ReportInputs) -> list[str]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    found = [
        (_ROLE[r.role], r.document.provenance.provider_url, r.document.provenance.provider_health)
        for r in inputs.conformance
    ]
    benches: list[Loaded[RunResult | LoadBalanceReport]] = [*inputs.runs, *inputs.loadbalance]
    for bench in benches:
        p = bench.document.provenance
        found.append((_ROLE[bench.role], p.target, p.provider_health))
    for role, url, body in found:
        if body is not None:
            seen.setdefault((role, _without_userinfo(url)), body)
    if not seen:
        return ["### Provider /health", "", "No document recorded the provider's /health.", ""]
    rows = [
        [
            role,
            code(url),
            cell(body.get("model")),
            cell(body.get("device")),
            cell(body.get("status")),
            cell(body.get("api_version")),
        ]
        for (role, url), body in seen.items()
    ]
    lines = [
        "### Provider /health",
        "",
        *table(["Role", "URL", "Model", "Device", "Status", "API version"], rows),
        "",
    ]
    for (role, url), body in seen.items():
        text = readable_json(body)
        lines += [*details(f"/health of the {role} at {url}", code_block(text, "json")), ""]
    return lines


def _servers(environments: Sequence[Loaded[EnvironmentSnapshot]]) -> list[str]:
    title = ["### Server machines", ""]
    if not environments:
        return [
            *title,
            "No environment snapshot was given, so the CPU and GPU that served the "
            "requests are not recorded here (run `python -m reports environment` on the "
            "server and pass the file).",
            "",
        ]
    header = ["", *(f"{_ROLE[e.role]} ({cell(e.document.role)})" for e in environments)]
    envs = [e.document for e in environments]
    rows = [
        ["Host", *(cell(e.hostname) for e in envs)],
        ["CPU", *(cell(f"{e.cpu_model} ×{e.cpu_count}") for e in envs)],
        ["Memory", *(f"{e.memory_gib:g} GiB" if e.memory_gib else "—" for e in envs)],
        ["GPU", *(cell(_gpus(e)) for e in envs)],
        ["OS", *(cell(e.os) for e in envs)],
        ["Python", *(e.python for e in envs)],
        ["Captured", *(_utc(e.captured_at) for e in envs)],
    ]
    for name in KEY_PACKAGES:
        if any(e.packages.get(name) for e in envs):
            rows.append([code(name), *(cell(e.packages.get(name) or "—") for e in envs)])
    return [*title, *table(header, rows), ""]


def _gpus(env: EnvironmentSnapshot) -> str:
    if not env.gpus:
        return f"none ({env.gpu_source})"
    return "; ".join(
        f"{g.name}"
        + (f", {g.memory_mib / 1024:.0f} GiB" if g.memory_mib else "")
        + (f", driver {g.driver}" if g.driver else "")
        for g in env.gpus
    )


def _clients(inputs: ReportInputs) -> list[str]:
    hosts: dict[tuple[str, str, str], ClientHost] = {}
    for item in inputs.benchmark_documents():
        c = item.document.provenance.client
        hosts.setdefault((c.hostname, c.cpu_model, c.os), c)
    if not hosts:
        return []
    rows = []
    for c in hosts.values():
        load = ", ".join(f"{x:.2f}" for x in c.load_average) if c.load_average else "—"
        rows.append(
            [cell(c.hostname), cell(c.cpu_model), str(c.cpu_count), cell(c.os), c.python, load]
        )
    header = ["Host", "CPU", "CPUs", "OS", "Python", "Load average at start (1, 5, 15 min)"]
    return ["### Load-generating machines", "", *table(header, rows), ""]


def _conformance_runs(inputs: ReportInputs) -> list[str]:
    lines: list[str] = []
    for record in inputs.conformance:
        p = record.document.provenance
        judges = (
            "; ".join(
                f"{j.role}: {j.name} {j.version}" + (f" ({j.detail})" if j.detail else "")
                for j in p.judges
            )
            or "none (the judged clauses were skipped)"
        )
        body = [
            f"- Kit {p.kit_version}, Provider API v{p.spec_version}, pytest {p.pytest}, "
            f"Python {p.python} on {cell(p.platform)}",
            f"- {_utc(p.started_at)} to {_utc(p.finished_at)} ({p.duration_s:.1f} s)",
            f"- Judges: {cell(judges)}",
            "",
            "Options (keys are never shown):",
            "",
            *code_block(readable_json(p.options), "json"),
        ]
        lines += [*details(f"Conformance run {record.source}", body), ""]
    return lines


def _bench_runs(inputs: ReportInputs) -> list[str]:
    lines: list[str] = []
    for item in inputs.benchmark_documents():
        p = item.document.provenance
        seeds = ", ".join(f"{k}={v}" for k, v in sorted(p.seeds.items())) or "none recorded"
        body = [
            f"- {_utc(p.started_at)} to {_utc(p.ended_at)} ({p.ended_at - p.started_at:.1f} s)",
            f"- Seeds: {cell(seeds)}",
            f"- Kit {p.kit_version}, Provider API v{p.spec_version}",
        ]
        if p.provider_health_error:
            body.append(f"- /health could not be read: {cell(p.provider_health_error)}")
        body += [f"- Note: {cell(note)}" for note in p.notes]
        body += ["", "Command:", "", *code_block(_command(p.command), "sh")]
        lines += [*details(f"{item.document.kind} {item.source}", body), ""]
    return lines


def _command(argv: Sequence[str]) -> str:
    """The command as a reader would retype it: the interpreter's path shortened to python."""
    words = list(argv)
    if words and PurePath(words[0]).name.startswith("python"):
        words[0] = "python"
    return shlex.join(words)
