"""The one readiness poller reads /health as SPEC §4 defines it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestration.processes import (
    REPO_ROOT,
    ManagedProcess,
    ProcessFailedError,
    python_env,
    serving,
    wait_healthy,
)


def _client(statuses: Iterator[tuple[int, str]]) -> tuple[httpx.Client, list[str]]:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        code, status = next(statuses)
        return httpx.Response(code, json={"status": status})

    return httpx.Client(base_url="http://provider", transport=httpx.MockTransport(answer)), seen


@pytest.mark.parametrize("ready", ["healthy", "degraded"])
def test_loading_is_waited_out_until_200(ready: str) -> None:
    client, seen = _client(iter([(503, "loading"), (503, "loading"), (200, ready)]))
    wait_healthy(client, timeout_s=30)
    assert seen == ["/health"] * 3


def test_unhealthy_fails_at_once_with_the_servers_words() -> None:
    client, seen = _client(iter([(503, "loading"), (503, "unhealthy"), (200, "healthy")]))
    with pytest.raises(ProcessFailedError, match=r"reports itself unhealthy.*'unhealthy'"):
        wait_healthy(client, timeout_s=30)
    assert len(seen) == 2


def test_a_child_that_exits_fails_at_once_with_its_log(tmp_path: Path) -> None:
    process = ManagedProcess(
        [sys.executable, "-c", "print('GET /health noise'); print('boom', flush=True)"],
        tmp_path / "child.log",
        name="child",
    )
    client = httpx.Client(base_url="http://127.0.0.1:9", transport=httpx.MockTransport(_refuse))
    with process:
        process.wait(timeout=30)
        with pytest.raises(ProcessFailedError, match="child: exited before it was ready") as err:
            wait_healthy(client, process, timeout_s=30)
    assert str(err.value).rstrip().endswith("boom")


def test_python_children_find_this_checkout_first() -> None:
    env = python_env({"EXTRA": "1"}, base={"PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"].split(":") == [str(REPO_ROOT), "/elsewhere"]
    assert env["EXTRA"] == env["PYTHONUNBUFFERED"] == "1"


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


_HEALTHY = """
import http.server, sys
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'{"status": "healthy"}')
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""


@pytest.mark.slow
def test_serving_retries_a_child_that_lost_its_port_and_stops_the_one_that_served(
    tmp_path: Path,
) -> None:
    started: list[ManagedProcess] = []

    def make(port: int) -> ManagedProcess:
        # The first child exits at once, as one whose port was taken meanwhile would.
        code = "raise SystemExit('address already in use')" if not started else _HEALTHY
        started.append(
            ManagedProcess([sys.executable, "-c", code, str(port)], tmp_path / f"{port}.log")
        )
        return started[-1]

    with serving(make, timeout_s=30) as (url, process):
        assert httpx.get(f"{url}/health", timeout=5).json() == {"status": "healthy"}
        assert process is started[-1]
    assert len(started) == 2
    assert not any(child.running() for child in started)
