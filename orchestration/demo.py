"""``python -m orchestration.demo``: the whole kit in one command, on a laptop, without a GPU.

It starts the reference server on its weight-free default engine, waits for ``/health``, runs the
conformance suite against it with the offline judges, runs a short open-loop benchmark at a few
load levels, and renders the report into one folder. With ``--provider-url`` it does the same
against your provider and renders it side by side with the reference server, measured in the
same session on the same machine.

Every process it starts runs in its own process group and is stopped (SIGTERM, then SIGKILL)
when the demo ends, fails, or is interrupted with Ctrl-C or SIGTERM. POSIX only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Final

from orchestration.processes import ManagedProcess, ProcessFailedError, python_env, serving
from reports.environment import capture_environment
from reports.inputs import InputError, load_inputs
from reports.redact import REDACTED, Redactor
from reports.render import RenderOptions, render_report
from voicebox_api import Settings, SettingsError

__all__ = ["DemoConfig", "DemoError", "main", "run_demo"]

DEFAULT_SERVER_COMMAND: Final = (
    "{python} -m reference_server --host 127.0.0.1 --port {port} --instance-id demo-reference "
    "--queue-size 2"
)
"""A short queue, so that the suite's burst of concurrent generations meets a 503 with
Retry-After (ERR-8) instead of leaving that clause unexercised."""
DEFAULT_SERVER_ENV: Final = (("VOICEBOX_REF_API_KEY", "{api_key}"),)
"""The reference server reads its key from the environment: no key on a command line in ps."""
DEFAULT_CONFORMANCE_COMMAND: Final = (
    "{python} -m pytest -p no:cacheprovider -q --provider-url {url} "
    "--conformance-report {report_dir} --conformance-level {level}"
)
DEFAULT_BENCH_COMMAND: Final = (
    "{python} -m benchmarks.openloop --host {url} --rate {rate} --duration {duration} "
    "--schedule poisson --seed 1 --request-seed {request_seed} --scenario generate --timeout 60 "
    "--slo-latency-ms {slo_ms} "
    "--min-duration {duration} --min-requests {min_requests} --out {out}"
)
MARKER: Final = ".voicebox-demo"
_OWNED: Final = ("reference", "provider", "logs")
_PORT_ATTEMPTS: Final = 3
_BENCH_GRACE_S: Final = 120.0
_PYTEST_OK: Final = (0, 1)
"""pytest's exit codes when it ran: 0 all passed, 1 some clause failed (the report says which)."""


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and where its log is."""


class _Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP, raised in the main thread so that every ``with`` cleans up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class DemoConfig:
    out: Path = Path("demo-report")
    server_command: str = DEFAULT_SERVER_COMMAND
    server_env: tuple[tuple[str, str], ...] = DEFAULT_SERVER_ENV
    """Variables set for the server; ``{api_key}`` is filled in as in the command."""
    provider_url: str | None = None
    provider_api_key: str | None = field(default=None, repr=False)
    rates: tuple[float, ...] = (1.0, 2.0, 4.0)
    duration_s: float = 15.0
    slo_ms: float = 2000.0
    startup_timeout_s: float = 180.0
    conformance_timeout_s: float = 900.0
    conformance_level: str = "all"
    skip_conformance: bool = False
    skip_bench: bool = False
    redact_hosts: bool = False
    conformance_command: str = DEFAULT_CONFORMANCE_COMMAND
    bench_command: str = DEFAULT_BENCH_COMMAND


@dataclass(frozen=True)
class _Target:
    role: str
    name: str
    url: str
    api_key: str | None = field(repr=False)
    folder: Path


Say = Callable[[str], None]


def _say(message: str) -> None:
    print(
        f"\033[1m[demo]\033[0m {message}" if sys.stderr.isatty() else f"[demo] {message}",
        file=sys.stderr,
        flush=True,
    )


def expand(template: str, values: Mapping[str, object]) -> list[str]:
    """Split a command template into words, then fill each word: a path with spaces stays one
    argument."""
    return [word.format(**values) for word in shlex.split(template)]


def _shown(argv: Sequence[str], secret: str | None) -> str:
    text = shlex.join(argv)
    return text.replace(secret, REDACTED) if secret else text


def run_demo(config: DemoConfig, say: Say = _say) -> Path:
    """Run every step and return the path of ``report.md``; raises :class:`DemoError`."""
    out = _prepare(config.out)
    templates = [config.server_command, *(value for _, value in config.server_env)]
    # Hex: a key that began with "-" would read as an option on a server's command line.
    key = secrets.token_hex(16) if any("{api_key}" in t for t in templates) else None
    with contextlib.ExitStack() as servers:
        reference_url = _start_reference(config, out, key, say, servers)
        _snapshot_environment(out / "reference")
        for target in _targets(config, out, reference_url, key):
            _check_and_bench(config, target, out, say)
    say("reference server stopped")
    return _render(config, out, [k for k in (key, config.provider_api_key) if k], say)


def _prepare(out: Path) -> Path:
    out = out.resolve()
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise DemoError(f"{out} is not empty and was not made by the demo; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(
        "made by python -m orchestration.demo; it replaces this folder's contents on its next "
        "run\n",
        encoding="utf-8",
    )
    for name in _OWNED:
        shutil.rmtree(out / name, ignore_errors=True)
    for stale in [*out.glob("*.png"), out / "report.md"]:
        stale.unlink(missing_ok=True)
    (out / "logs").mkdir()
    return out


def _targets(config: DemoConfig, out: Path, reference_url: str, key: str | None) -> list[_Target]:
    if config.provider_url is None:
        return [_Target("provider", "the reference server", reference_url, key, out / "reference")]
    return [
        _Target(
            "provider",
            "your provider",
            config.provider_url.rstrip("/"),
            config.provider_api_key,
            out / "provider",
        ),
        _Target("baseline", "the reference server", reference_url, key, out / "reference"),
    ]


def _start_reference(
    config: DemoConfig, out: Path, key: str | None, say: Say, stack: contextlib.ExitStack
) -> str:
    log = out / "logs" / "reference-server.log"

    def make(port: int) -> ManagedProcess:
        argv = expand(
            config.server_command, {"python": sys.executable, "port": port, "api_key": key or ""}
        )
        say(f"starting the reference server: {_shown(argv, key)}")
        return ManagedProcess(argv, log, env=_server_env(config, key), name="reference server")

    began = time.monotonic()
    try:
        url, _ = stack.enter_context(
            serving(make, timeout_s=config.startup_timeout_s, attempts=_PORT_ATTEMPTS)
        )
    except ProcessFailedError as exc:
        raise DemoError(f"the reference server did not become ready: {exc}") from None
    say(f"ready at {url} after {time.monotonic() - began:.1f} s (log: {_rel(log, out)})")
    return url


def _server_env(config: DemoConfig, key: str | None) -> dict[str, str]:
    extra = {name: value.format(api_key=key or "") for name, value in config.server_env}
    return python_env(extra)


def _snapshot_environment(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = capture_environment(role="server")
    (folder / "environment.json").write_text(
        snapshot.model_dump_json(indent=1) + "\n", encoding="utf-8"
    )


def _stage_env(api_key: str | None) -> dict[str, str]:
    env = python_env()
    env.pop("TTS_API_KEY", None)
    if api_key:
        env["TTS_API_KEY"] = api_key
    return env


def _check_and_bench(config: DemoConfig, target: _Target, out: Path, say: Say) -> None:
    target.folder.mkdir(parents=True, exist_ok=True)
    if not config.skip_conformance:
        _conformance(config, target, out, say)
    if not config.skip_bench:
        for level, rate in enumerate(config.rates, start=1):
            _bench(config, target, out, say, rate=rate, level=level)


def _run(
    name: str,
    argv: Sequence[str],
    log: Path,
    *,
    timeout_s: float,
    env: Mapping[str, str],
    cwd: Path,
) -> int:
    """Run one step in its own process group; it is stopped whatever happens."""
    with ManagedProcess(argv, log, env=env, cwd=cwd, name=name) as process:
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise DemoError(f"{name} did not finish within {timeout_s:.0f} s; see {log}") from None


def _conformance(config: DemoConfig, target: _Target, out: Path, say: Say) -> None:
    report_dir = target.folder / "conformance"
    log = out / "logs" / f"conformance-{target.folder.name}.log"
    argv = expand(
        config.conformance_command,
        {
            "python": sys.executable,
            "url": target.url,
            "report_dir": report_dir,
            "level": config.conformance_level,
        },
    )
    say(f"conformance suite against {target.name} (log: {_rel(log, out)})")
    began = time.monotonic()
    # An empty working directory: pytest must not collect this checkout's own tests.
    with tempfile.TemporaryDirectory(prefix="voicebox-demo-") as empty:
        code = _run(
            "conformance suite",
            argv,
            log,
            timeout_s=config.conformance_timeout_s,
            env=_stage_env(target.api_key),
            cwd=Path(empty),
        )
    record = report_dir / "conformance.json"
    if code not in _PYTEST_OK or not record.is_file():
        raise DemoError(f"the conformance suite exited {code} without a record; see {log}")
    say(f"  {_verdicts(record)} in {time.monotonic() - began:.0f} s")


def _verdicts(record: Path) -> str:
    summary = json.loads(record.read_text(encoding="utf-8")).get("summary", {})
    counts = ", ".join(f"{n} {verdict}" for verdict, n in summary.items() if n)
    return counts or "no verdicts"


def _bench(
    config: DemoConfig, target: _Target, out: Path, say: Say, *, rate: float, level: int
) -> None:
    # Each load level draws its own requests (--request-seed): a server that caches seeded
    # requests (the reference server does) would otherwise answer a replay of the last level
    # from its cache. Provider and reference get the same requests at the same level.
    result = target.folder / "bench" / f"openloop-{rate:g}rps.json"
    log = out / "logs" / f"bench-{target.folder.name}-{rate:g}rps.log"
    argv = expand(
        config.bench_command,
        {
            "python": sys.executable,
            "url": target.url,
            "rate": f"{rate:g}",
            "duration": f"{config.duration_s:g}",
            "slo_ms": f"{config.slo_ms:g}",
            "min_requests": max(5, int(rate * config.duration_s / 2)),
            "request_seed": level,
            "out": result,
        },
    )
    say(
        f"open-loop benchmark of {target.name}: {rate:g} requests/s for "
        f"{config.duration_s:g} s (log: {_rel(log, out)})"
    )
    code = _run(
        "benchmark",
        argv,
        log,
        timeout_s=config.duration_s + _BENCH_GRACE_S,
        env=_stage_env(target.api_key),
        cwd=out,
    )
    if not result.is_file():
        raise DemoError(f"the benchmark exited {code} without a result; see {log}")


def _demo_note(config: DemoConfig) -> str:
    rates = ", ".join(f"{r:g}" for r in config.rates)
    return (
        f"Made by `scripts/demo`: short open-loop runs ({config.duration_s:g} s at {rates} "
        "requests/s) with the validity thresholds lowered to match, so that the whole kit "
        "runs in a few minutes. For numbers you quote, run `python -m benchmarks.openloop` "
        "with its default thresholds."
    )


def _render(config: DemoConfig, out: Path, keys: list[str], say: Say) -> Path:
    redactor = Redactor(secrets=keys, redact_hosts=config.redact_hosts)
    if config.provider_url is None:
        provider, baseline = [out / "reference"], []
    else:
        provider, baseline = [out / "provider"], [out / "reference"]
    try:
        inputs = load_inputs(provider, baseline, redactor)
    except InputError as exc:
        raise DemoError(f"nothing to report: {exc}") from None
    rendered = render_report(inputs, out, RenderOptions(notes=(_demo_note(config),)), redactor)
    for warning in rendered.warnings:
        say(f"warning: {warning}")
    return rendered.markdown


def _rel(path: Path, root: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(root.parent))
    return str(path)


# --- Command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.demo", description=__doc__.split("\n\n")[0]
    )
    add = parser.add_argument
    add("--out", type=Path, default=Path("demo-report"), help="report folder (demo-report)")
    add("--provider-url", help="also check and benchmark this provider, against the reference")
    add("--provider-api-key", help="its key (default: $TTS_API_KEY)")
    add("--rates", default="1,2,4", help="open-loop load levels in requests/s (1,2,4)")
    add("--duration", type=float, default=15.0, help="seconds per load level (15)")
    add("--slo-ms", type=float, default=2000.0, help="latency objective for goodput (2000)")
    add("--startup-timeout", type=float, default=180.0, help="seconds to wait for /health")
    add("--conformance-timeout", type=float, default=900.0, help="seconds for the suite")
    add("--conformance-level", choices=["must", "should", "all"], default="all")
    add("--skip-conformance", action="store_true")
    add("--skip-bench", action="store_true")
    add("--redact-hosts", action="store_true", help="hostnames and IPs as placeholders")
    add(
        "--server-command",
        default=DEFAULT_SERVER_COMMAND,
        help="how to start your own server instead: {python}, {port} and {api_key} are filled "
        "in; with {api_key} the demo makes a key and checks authentication too",
    )
    # Hooks for the demo's own tests, which run it with stand-in steps.
    add("--conformance-command", default=DEFAULT_CONFORMANCE_COMMAND, help=argparse.SUPPRESS)
    add("--bench-command", default=DEFAULT_BENCH_COMMAND, help=argparse.SUPPRESS)
    return parser


def _config(options: argparse.Namespace) -> DemoConfig:
    try:
        rates = tuple(float(r) for r in options.rates.split(",") if r.strip())
    except ValueError:
        raise DemoError(f"--rates {options.rates!r} is not a list of numbers") from None
    if not rates or any(r <= 0 for r in rates) or options.duration <= 0:
        raise DemoError("rates and duration must be positive")
    return DemoConfig(
        out=options.out,
        server_command=options.server_command,
        # A server of your own is started as you wrote it: no key unless it names {api_key}.
        server_env=DEFAULT_SERVER_ENV if options.server_command == DEFAULT_SERVER_COMMAND else (),
        provider_url=options.provider_url,
        provider_api_key=options.provider_api_key or _environment_key(),
        rates=rates,
        duration_s=options.duration,
        slo_ms=options.slo_ms,
        startup_timeout_s=options.startup_timeout,
        conformance_timeout_s=options.conformance_timeout,
        conformance_level=options.conformance_level,
        skip_conformance=options.skip_conformance,
        skip_bench=options.skip_bench,
        redact_hosts=options.redact_hosts,
        conformance_command=options.conformance_command,
        bench_command=options.bench_command,
    )


def _environment_key() -> str | None:
    """``TTS_API_KEY`` as the kit's settings read it, the one reader of the seed's variables."""
    try:
        key = Settings.from_env().tts_api_key
    except SettingsError as exc:
        raise DemoError(str(exc)) from None
    return key.get_secret_value() if key is not None else None


_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    # Ignore further signals: a second Ctrl-C must not cut the cleanup short and leave a server.
    for stop in _STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    raise _Interrupted(signum)


@contextlib.contextmanager
def _signals_unwind() -> Iterator[None]:
    """Turn Ctrl-C, SIGTERM and SIGHUP into an exception that unwinds every ``with`` block."""
    previous = {s: signal.signal(s, _raise_interrupted) for s in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    try:
        with _signals_unwind():
            report = run_demo(_config(options))
    except KeyboardInterrupt:
        _say("interrupted; every process the demo started has been stopped")
        return 130
    except _Interrupted as exc:
        _say(f"interrupted ({exc}); every process the demo started has been stopped")
        return 128 + exc.signum
    except DemoError as exc:
        _say(f"error: {exc}")
        return 1
    print(f"Report: {report}")
    print(f"Open it, or paste it into a GitHub Discussion with the PNGs beside it: {report.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
