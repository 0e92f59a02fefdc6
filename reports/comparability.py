"""Whether two measurements can be compared: same machine, same session, same load, valid.

A ratio between a provider and the reference server means something only when both ran under
the same conditions, so the report states each condition with what the documents show, and says
"cannot tell" rather than guess. Hostnames are compared after redaction, which maps each host to
one placeholder, so equality survives ``--redact-hosts``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Final
from urllib.parse import urlsplit

from benchmarks.results import RunResult
from reports.environment import EnvironmentSnapshot

__all__ = ["Comparability", "Finding", "assess", "window_text"]

SESSION_GAP_S: Final = 15 * 60.0
"""Longest pause between two compared runs that still counts as one session."""
_LOAD_KEYS: Final = (
    "scenario",
    "schedule",
    "nominal_rate_rps",
    "scheduled_rate_rps",
    "duration_s",
    "concurrency",
    "seed",
    "voices",
    "check_fraction",
)
"""The ``RunConfig`` members two runs must share to be compared (and the run's ``mode``)."""


@dataclass(frozen=True)
class Finding:
    ok: bool | None
    """True: shown; False: shown not to hold; None: the documents cannot tell."""
    text: str

    @property
    def mark(self) -> str:
        return {True: "✅", False: "❌", None: "❔"}[self.ok]


@dataclass(frozen=True)
class Comparability:
    machine: Finding
    session: Finding
    load: Finding
    validity: Finding

    @property
    def comparable(self) -> bool:
        return all(f.ok for f in self.findings())

    def findings(self) -> tuple[Finding, ...]:
        return (self.machine, self.session, self.load, self.validity)


def assess(
    provider: RunResult,
    baseline: RunResult,
    environments: Sequence[tuple[str, EnvironmentSnapshot]] = (),
) -> Comparability:
    """How far a provider run and a reference run were measured under the same conditions.

    ``environments`` are (role, snapshot) pairs for the server machines, when captured.
    """
    return Comparability(
        machine=_machine(provider, baseline, environments),
        session=_session([provider, baseline]),
        load=_load(provider, baseline),
        validity=_validity(provider, baseline),
    )


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host in {"localhost", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _client_key(run: RunResult) -> tuple[str, str, str]:
    client = run.provenance.client
    return client.hostname, client.cpu_model, client.os


def _machine(
    provider: RunResult,
    baseline: RunResult,
    environments: Sequence[tuple[str, EnvironmentSnapshot]],
) -> Finding:
    same_client = _client_key(provider) == _client_key(baseline)
    client = provider.provenance.client
    if not same_client:
        return Finding(
            False,
            "different load-generating machines "
            f"({provider.provenance.client.hostname} and {baseline.provenance.client.hostname})",
        )
    both_local = _is_loopback(provider.provenance.target) and _is_loopback(
        baseline.provenance.target
    )
    if both_local:
        return Finding(
            True,
            f"both servers and the load generator ran on one machine "
            f"({client.hostname}: {client.cpu_model}, {client.cpu_count} CPUs, {client.os})",
        )
    servers = _server_machines(environments)
    if servers is not None:
        return servers
    provider_host = urlsplit(provider.provenance.target).hostname
    baseline_host = urlsplit(baseline.provenance.target).hostname
    if provider_host != baseline_host:
        return Finding(
            False,
            f"the servers ran on different hosts ({provider_host} and "
            f"{baseline_host}): the ratios compare the machines as well as the software",
        )
    return Finding(
        None,
        f"both servers answered at {provider_host}, but no environment snapshot "
        "shows that it was one machine",
    )


def _server_machines(environments: Sequence[tuple[str, EnvironmentSnapshot]]) -> Finding | None:
    by_role = {role: env for role, env in environments}
    if "provider" not in by_role or "baseline" not in by_role:
        return None
    a, b = by_role["provider"], by_role["baseline"]
    key_a = (a.hostname, a.cpu_model, [g.name for g in a.gpus])
    key_b = (b.hostname, b.cpu_model, [g.name for g in b.gpus])
    if key_a == key_b:
        return Finding(True, f"both servers ran on {a.hostname} ({a.cpu_model})")
    return Finding(
        False,
        f"the servers ran on different machines ({a.hostname}: {a.cpu_model}; "
        f"{b.hostname}: {b.cpu_model})",
    )


def window_text(start: float, end: float) -> str:
    begin = datetime.fromtimestamp(start, UTC)
    finish = datetime.fromtimestamp(end, UTC)
    return f"{begin:%Y-%m-%d %H:%M:%S}–{finish:%H:%M:%S} UTC"


def _session(runs: Sequence[RunResult]) -> Finding:
    windows = sorted((r.provenance.started_at, r.provenance.ended_at) for r in runs)
    for (_, end), (start, _) in pairwise(windows):
        if start < end:
            return Finding(False, "the runs overlapped in time, so they competed for the machine")
        if start - end > SESSION_GAP_S:
            return Finding(
                False,
                f"{(start - end) / 3600:.1f} h passed between the runs "
                f"(one session allows {SESSION_GAP_S / 60:.0f} min)",
            )
    span = window_text(windows[0][0], max(end for _, end in windows))
    return Finding(True, f"one session, {span}, one run after the other")


def _load(provider: RunResult, baseline: RunResult) -> Finding:
    a, b = _load_settings(provider), _load_settings(baseline)
    differing = [f"{k}: {a[k]} vs {b[k]}" for k in a if a[k] != b[k]]
    if differing:
        return Finding(False, "different load settings (" + "; ".join(differing) + ")")
    described = f"{a.get('mode')} {a.get('scenario')}"
    nominal, scheduled = a.get("nominal_rate_rps"), a.get("scheduled_rate_rps")
    if isinstance(nominal, int | float):
        described += f" at {nominal:g}/s"
        if isinstance(scheduled, int | float) and round(scheduled, 3) != round(nominal, 3):
            described += f" ({scheduled:.3g}/s as scheduled)"
    return Finding(True, f"the same load settings ({described}, seed {a.get('seed')})")


def _load_settings(run: RunResult) -> dict[str, object]:
    settings: dict[str, object] = {"mode": run.mode}
    settings.update(run.config.model_dump(include=set(_LOAD_KEYS)))
    settings["scenario"] = run.provenance.scenario or run.config.scenario
    rate = run.config.scheduled_rate_rps
    settings["scheduled_rate_rps"] = round(rate, 3) if rate is not None else None
    return settings


def _validity(provider: RunResult, baseline: RunResult) -> Finding:
    invalid = [
        name
        for name, run in (("provider", provider), ("reference", baseline))
        if not run.validity.valid
    ]
    if invalid:
        runs = " and the ".join(invalid) + (" runs are" if len(invalid) > 1 else " run is")
        return Finding(False, f"the {runs} INVALID")
    return Finding(True, "both runs passed their validity checklist")
