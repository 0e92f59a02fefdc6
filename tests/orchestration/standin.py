"""Stand-ins for the demo's steps, so that its orchestration is tested without the real tools.

    python tests/orchestration/standin.py server --port P [--api-key K] [--never-ready]
        [--unhealthy] [--pidfile F]
    python tests/orchestration/standin.py conformance --url U --report-dir D [--hang] [--pidfile F]
    python tests/orchestration/standin.py bench --url U --out F

``server`` answers ``/health`` (200 healthy, or 503 loading forever with ``--never-ready``),
appends a line to ``F.polls`` for each ``/health`` it answers (so that a test sees the demo
polling), and starts a grandchild that sleeps, so that a test can check that the whole process
group is stopped. The steps copy fixture documents where the real tools would write theirs, after
checking that the URL they were given answers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "reports" / "fixtures"


def _record_pids(pidfile: str | None, *pids: int) -> None:
    if pidfile:
        Path(pidfile).write_text(" ".join(str(p) for p in pids))


def _sleeper() -> int:
    """A grandchild in the same process group, as a real server's worker would be."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    return child.pid


def serve(port: int, never_ready: bool, pidfile: str | None, unhealthy: bool = False) -> None:
    if unhealthy:
        print("ERROR the stand-in backend failed to load", flush=True)
    state = "unhealthy" if unhealthy else "loading" if never_ready else "healthy"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if pidfile:
                with Path(f"{pidfile}.polls").open("a") as polls:
                    polls.write(f"{self.path}\n")
            status = 200 if state == "healthy" else 503
            body = {
                "status": state,
                "model": "stand-in",
                "device": "cpu",
            }
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 503:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(data)

    _record_pids(pidfile, os.getpid(), _sleeper())
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _check(url: str) -> None:
    with urllib.request.urlopen(f"{url}/health", timeout=5) as response:  # noqa: S310
        assert response.status == 200


def conformance(url: str, report_dir: str, hang: bool, pidfile: str | None) -> None:
    _check(url)
    _record_pids(pidfile, os.getpid(), _sleeper())
    if hang:
        time.sleep(600)
    assert os.environ.get("TTS_API_KEY"), "the demo passes the key in the environment"
    Path(report_dir).mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "conformance-reference.json", Path(report_dir) / "conformance.json")
    sys.exit(1)  # as pytest does when a clause failed: the demo carries on


def bench(url: str, out: str) -> None:
    _check(url)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "run-reference-2.json", out)


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("server")
    server.add_argument("--port", type=int, required=True)
    server.add_argument("--never-ready", action="store_true")
    server.add_argument("--unhealthy", action="store_true", help="503 unhealthy, and say why")
    server.add_argument("--api-key", help="accepted and ignored, as the real server's flag")
    server.add_argument("--pidfile")
    check = commands.add_parser("conformance")
    check.add_argument("--url", required=True)
    check.add_argument("--report-dir", required=True)
    check.add_argument("--hang", action="store_true")
    check.add_argument("--pidfile")
    load = commands.add_parser("bench")
    load.add_argument("--url", required=True)
    load.add_argument("--out", required=True)
    options = parser.parse_args()
    if options.command == "server":
        serve(options.port, options.never_ready, options.pidfile, options.unhealthy)
    elif options.command == "conformance":
        conformance(options.url, options.report_dir, options.hang, options.pidfile)
    else:
        bench(options.url, options.out)


if __name__ == "__main__":
    main()
