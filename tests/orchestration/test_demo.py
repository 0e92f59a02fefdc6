"""The demo's orchestration: it reports, prints where, and leaves no process behind, even when
it is interrupted or a step fails. Stand-ins replace the server and the steps
(tests/orchestration/standin.py); the last test runs the real thing when the reference server is
installed."""

from __future__ import annotations

import importlib.util
import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from orchestration.processes import python_env

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().with_name("standin.py")
PYTHON = "{python} " + shlex.quote(str(STANDIN))


def demo_argv(out: Path, *extra: str, server: str = "", step: str = "") -> list[str]:
    return [
        sys.executable,
        "-m",
        "orchestration.demo",
        "--out",
        str(out),
        "--rates",
        "1,2",
        "--duration",
        "1",
        "--server-command",
        f"{PYTHON} server --port {{port}} --api-key {{api_key}} {server}",
        "--conformance-command",
        f"{PYTHON} conformance --url {{url}} --report-dir {{report_dir}} {step}",
        "--bench-command",
        f"{PYTHON} bench --url {{url}} --out {{out}}",
        *extra,
    ]


def start(argv: list[str]) -> subprocess.Popen[str]:
    env = python_env()
    env.pop("TTS_API_KEY", None)
    return subprocess.Popen(
        argv, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def wait_for_pids(path: Path, process: subprocess.Popen[str], timeout_s: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return [int(p) for p in path.read_text().split()]
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError(f"{path.name} never appeared")


def wait_for_polls(pidfile: Path, process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    """Wait until the stand-in server has answered the demo's first ``/health`` poll."""
    polls = pidfile.with_name(f"{pidfile.name}.polls")
    deadline = time.monotonic() + timeout_s
    while not (polls.is_file() and polls.read_text().strip()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the demo never polled /health"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_all_gone(pids: list[int], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [p for p in pids if alive(p)]
    assert not survivors, f"processes survived the demo: {survivors}"


def finish(process: subprocess.Popen[str], timeout_s: float = 120) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, out, err


@pytest.mark.slow
def test_the_demo_reports_prints_where_and_stops_everything(tmp_path: Path) -> None:
    pids = tmp_path / "server.pids"
    out = tmp_path / "demo"
    process = start(demo_argv(out, server=f"--pidfile {pids}"))
    code, stdout, stderr = finish(process)
    assert code == 0, stderr
    report = out / "report.md"
    assert f"Report: {report}" in stdout
    text = report.read_text(encoding="utf-8")
    assert "## Conformance" in text
    assert "## Benchmarks" in text
    assert "> [!NOTE]\n> Made by `scripts/demo`" in text
    assert (out / "reference" / "environment.json").is_file()
    assert "reference server stopped" in stderr
    assert_all_gone([int(p) for p in pids.read_text().split()])


@pytest.mark.slow
def test_ctrl_c_while_waiting_for_health_stops_the_server_group(tmp_path: Path) -> None:
    pids = tmp_path / "server.pids"
    process = start(demo_argv(tmp_path / "demo", server=f"--never-ready --pidfile {pids}"))
    started = wait_for_pids(pids, process)
    assert all(alive(p) for p in started)
    wait_for_polls(pids, process)  # the demo is in its readiness wait
    process.send_signal(signal.SIGINT)
    code, _, stderr = finish(process, timeout_s=30)
    assert code == 130, stderr
    assert "interrupted" in stderr
    assert_all_gone(started)


@pytest.mark.slow
def test_sigterm_during_a_step_stops_the_step_and_the_server(tmp_path: Path) -> None:
    server_pids, step_pids = tmp_path / "server.pids", tmp_path / "step.pids"
    argv = demo_argv(
        tmp_path / "demo", server=f"--pidfile {server_pids}", step=f"--hang --pidfile {step_pids}"
    )
    process = start(argv)
    started = wait_for_pids(step_pids, process) + wait_for_pids(server_pids, process)
    process.send_signal(signal.SIGTERM)
    code, _, stderr = finish(process, timeout_s=30)
    assert code == 143, stderr
    assert_all_gone(started)


@pytest.mark.slow
def test_a_server_that_never_gets_ready_fails_in_bounded_time(tmp_path: Path) -> None:
    pids = tmp_path / "server.pids"
    # Long enough for a cold interpreter to start the stand-in and answer 503 loading, so that
    # the demo gives up on a server that is loading, not on one that is still starting.
    argv = demo_argv(
        tmp_path / "demo", "--startup-timeout", "15", server=f"--never-ready --pidfile {pids}"
    )
    code, _, stderr = finish(start(argv), timeout_s=90)
    assert code == 1
    assert "did not become ready" in stderr
    assert "HTTP 503" in stderr
    assert_all_gone([int(p) for p in pids.read_text().split()])


@pytest.mark.slow
def test_an_unhealthy_server_fails_at_once_with_its_own_words(tmp_path: Path) -> None:
    pids = tmp_path / "server.pids"
    argv = demo_argv(
        tmp_path / "demo", "--startup-timeout", "120", server=f"--unhealthy --pidfile {pids}"
    )
    began = time.monotonic()
    code, _, stderr = finish(start(argv), timeout_s=60)
    assert code == 1
    assert time.monotonic() - began < 60, "it waited for the timeout instead of failing"
    assert "reports itself unhealthy (HTTP 503, status 'unhealthy')" in stderr
    assert "ERROR the stand-in backend failed to load" in stderr
    assert '"GET /health' not in stderr, "the log tail is drowned in health polls"
    assert_all_gone([int(p) for p in pids.read_text().split()])


def test_the_demo_will_not_empty_a_folder_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("mine")
    code, _, stderr = finish(start(demo_argv(tmp_path)), timeout_s=60)
    assert code == 1
    assert "was not made by the demo" in stderr
    assert precious.read_text() == "mine"


def test_bad_rates_are_refused(tmp_path: Path) -> None:
    code, _, stderr = finish(start(demo_argv(tmp_path / "d", "--rates", "1,x")), timeout_s=60)
    assert code == 1
    assert "--rates" in stderr


def _real_kit_present() -> bool:
    return all(
        importlib.util.find_spec(name) is not None
        for name in (
            "reference_server.__main__",
            "reference_server.backends.espeak",
            "voicebox_api._client",
            "conformance.engine.references",
        )
    )


@pytest.mark.slow
@pytest.mark.skipif(not _real_kit_present(), reason="the reference server or client is missing")
def test_the_real_demo_end_to_end(tmp_path: Path) -> None:
    """The README's first command, shortened: real server, suite, open-loop run, report."""
    out = tmp_path / "demo"
    argv = [
        sys.executable,
        "-m",
        "orchestration.demo",
        "--out",
        str(out),
        "--rates",
        "2",
        "--duration",
        "5",
        "--conformance-level",
        "must",
    ]
    code, stdout, stderr = finish(start(argv), timeout_s=900)
    assert code == 0, stderr[-3000:]
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "## Conformance" in text
    assert "open-loop generate 2/s" in text
    assert f"Report: {out / 'report.md'}" in stdout
    record = json.loads((out / "reference" / "conformance" / "conformance.json").read_text())
    verdicts = {case["id"]: case["verdict"] for case in record["cases"]}
    assert verdicts["AUTH-1"] == verdicts["AUTH-3"] == "PASS", "the server got the demo's key"
