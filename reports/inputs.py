"""Reading a report's inputs: conformance records, benchmark documents, environment snapshots.

Each file says what it is in its ``kind`` member, so files can be given in any order (or as
folders, searched for ``*.json``). Every document is redacted *before* it is parsed, so nothing
downstream (tables, plots, provenance) can see a key. A document belongs to the provider under
test or, when given with ``--baseline``, to the reference it is compared with.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Generic, Literal, TypeVar

from pydantic import TypeAdapter, ValidationError

from benchmarks.results import (
    READABLE_MAJORS,
    AnyDocument,
    Document,
    LoadBalanceReport,
    RunResult,
    SelfCheckReport,
    StallComparison,
)
from conformance import ConformanceRecord
from reports.environment import EnvironmentSnapshot
from reports.redact import Redactor

__all__ = ["InputError", "Loaded", "ReportInputs", "Role", "load_inputs"]

Role = Literal["provider", "baseline"]
T_co = TypeVar("T_co", covariant=True)

_BENCH_KINDS: Final = frozenset({"run", "loadbalance", "selfcheck", "stall-comparison"})
_BENCH: TypeAdapter[AnyDocument] = TypeAdapter(Document)


class InputError(ValueError):
    """An input file is missing, is not JSON, or is not a document this kit writes."""


@dataclass(frozen=True)
class Loaded(Generic[T_co]):
    """One input document, where it came from, and whose it is."""

    document: T_co
    source: str
    role: Role


@dataclass
class ReportInputs:
    conformance: list[Loaded[ConformanceRecord]] = field(default_factory=list)
    runs: list[Loaded[RunResult]] = field(default_factory=list)
    loadbalance: list[Loaded[LoadBalanceReport]] = field(default_factory=list)
    selfchecks: list[Loaded[SelfCheckReport]] = field(default_factory=list)
    stalls: list[Loaded[StallComparison]] = field(default_factory=list)
    environments: list[Loaded[EnvironmentSnapshot]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Files found in folders that are not documents of this kit (reported, not fatal)."""

    @property
    def has_baseline(self) -> bool:
        return any(item.role == "baseline" for item in self.everything())

    def benchmark_documents(self) -> list[Loaded[AnyDocument]]:
        return [*self.runs, *self.loadbalance, *self.selfchecks, *self.stalls]

    def everything(self) -> list[Loaded[Any]]:
        return [
            *self.conformance,
            *self.runs,
            *self.loadbalance,
            *self.selfchecks,
            *self.stalls,
            *self.environments,
        ]

    def add(self, document: Any, source: str, role: Role) -> None:
        target: dict[type, list[Any]] = {
            ConformanceRecord: self.conformance,
            RunResult: self.runs,
            LoadBalanceReport: self.loadbalance,
            SelfCheckReport: self.selfchecks,
            StallComparison: self.stalls,
            EnvironmentSnapshot: self.environments,
        }
        target[type(document)].append(Loaded(document, source, role))


def load_inputs(
    provider: Sequence[str | Path],
    baseline: Sequence[str | Path] = (),
    redactor: Redactor | None = None,
) -> ReportInputs:
    """Read, redact and parse every document; folders are searched for ``*.json``."""
    redactor = redactor or Redactor()
    raw: list[tuple[dict[str, Any], str, Role]] = []
    inputs = ReportInputs()
    for paths, role in ((provider, "provider"), (baseline, "baseline")):
        for path, explicit in _expand(paths):
            tree = _read(path, explicit)
            if tree is None:
                inputs.skipped.append(path.name)
                continue
            raw.append((tree, path.name, role))  # type: ignore[arg-type]
    for tree, _, _ in raw:
        redactor.learn(tree)
    for tree, source, role in raw:
        inputs.add(_parse(redactor.scrub(tree), source), source, role)
    if not inputs.everything():
        raise InputError("no conformance, benchmark or environment document among the inputs")
    return inputs


def _expand(paths: Iterable[str | Path]) -> list[tuple[Path, bool]]:
    found: list[tuple[Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += [(p, False) for p in sorted(path.rglob("*.json")) if p.is_file()]
        elif path.is_file():
            found.append((path, True))
        else:
            raise InputError(f"{raw}: no such file or folder")
    return found


def _read(path: Path, explicit: bool) -> dict[str, Any] | None:
    """The JSON object of a document, or None for a non-document found inside a folder."""
    try:
        tree = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        if not explicit:
            return None
        raise InputError(f"{path.name}: not readable JSON ({exc})") from None
    if isinstance(tree, dict) and tree.get("kind") in {"conformance", "environment", *_BENCH_KINDS}:
        return tree
    if not explicit:
        return None
    kind = tree.get("kind") if isinstance(tree, dict) else None
    raise InputError(
        f"{path.name}: kind {kind!r} is not a document of this kit (expected conformance, "
        f"{', '.join(sorted(_BENCH_KINDS))} or environment)"
    )


def _parse(tree: dict[str, Any], source: str) -> Any:
    kind = tree["kind"]
    try:
        if kind == "conformance":
            return ConformanceRecord.model_validate(tree)
        if kind == "environment":
            return EnvironmentSnapshot.model_validate(tree)
        _check_bench_version(tree, source)
        return _BENCH.validate_python(tree)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"{source}: not a valid {kind} document ({exc.error_count()} problems; first at "
            f"{where or 'top level'}: {first['msg']})"
        ) from None


def _check_bench_version(tree: dict[str, Any], source: str) -> None:
    version = str(tree.get("schema_version", ""))
    if version.split(".", maxsplit=1)[0] not in READABLE_MAJORS:
        raise InputError(
            f"{source}: schema_version {version!r} is not readable by this kit "
            f"(it reads {_readable()}); upgrade voicebox-provider-kit"
        )


def _readable() -> str:
    return ", ".join(f"{major}.x" for major in READABLE_MAJORS)
