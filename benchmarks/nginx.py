"""A real load balancer for the benchmarks: nginx with a generated config on loopback.

Everything nginx writes (pid, logs, temp files) stays in a temporary folder; it runs in the
foreground (``daemon off``) with one worker, in its own process group, and is always stopped.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from orchestration.processes import ManagedProcess, ProcessFailedError, serving

__all__ = [
    "Balance",
    "NginxConfig",
    "NginxNotFoundError",
    "find_nginx",
    "nginx_version",
    "render_config",
    "run_nginx",
]

Balance = Literal["round_robin", "least_conn"]
_NULL_HEALTH: Final = '{"status":"healthy","model":"null","device":"none"}'

RATIONALE: Final = (
    "proxy_next_upstream error timeout http_502 http_503: a connection that fails, or a 502/503 "
    "answer, moves the request to the next backend - but nginx never resends a POST that already "
    "reached a backend (non_idempotent is deliberately off): a generation that a dying backend "
    "had started is reported as failed rather than run twice, as SPEC Appendix B asks of "
    "clients. max_fails=1 fail_timeout=2s: one failed connect takes a backend out for 2 s, after "
    "which live traffic probes it again (open-source nginx has no active health checks). "
    "proxy_connect_timeout 1s: on loopback or a LAN a connect that takes longer means the host "
    "is gone. proxy_read_timeout 120s: a long generation is not a failure. keepalive 64: "
    "upstream connections are reused, so the balancer adds no TCP handshake per request. "
    "proxy_buffering off for /v1/generate: a streamed answer (SPEC.md §14) reaches the client "
    "frame by frame instead of when the whole clip is done."
)


class NginxNotFoundError(RuntimeError):
    """nginx is not installed (Debian: apt-get install nginx)."""


@dataclass(frozen=True)
class NginxConfig:
    """What the generated nginx.conf says."""

    upstreams: Sequence[str] = ()
    """``host:port`` of each backend."""
    balance: Balance = "round_robin"
    max_fails: int = 1
    fail_timeout_s: float = 2.0
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 120.0
    next_upstream: str = "error timeout http_502 http_503"
    next_upstream_tries: int = 3
    keepalive: int = 64
    null_health: bool = False
    """Serve a static ``/health`` from nginx itself: the fastest possible null provider."""

    def directives(self) -> dict[str, str]:
        return {
            "balance": self.balance,
            "server": f"max_fails={self.max_fails} fail_timeout={self.fail_timeout_s:g}s",
            "proxy_next_upstream": self.next_upstream,
            "proxy_next_upstream_tries": str(self.next_upstream_tries),
            "proxy_connect_timeout": f"{self.connect_timeout_s:g}s",
            "proxy_read_timeout": f"{self.read_timeout_s:g}s",
            "keepalive": str(self.keepalive),
        }


def find_nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise NginxNotFoundError("nginx is not installed (Debian: apt-get install nginx)")
    return found


def nginx_version(binary: str | None = None) -> str:
    completed = subprocess.run(
        [binary or find_nginx(), "-v"], capture_output=True, text=True, timeout=10, check=False
    )
    match = re.search(r"nginx/(\S+)", completed.stderr + completed.stdout)
    return match.group(1) if match else "unknown"


def _proxy_settings(config: NginxConfig) -> str:
    return f"""
            proxy_pass http://providers;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_connect_timeout {config.connect_timeout_s:g}s;
            proxy_send_timeout {config.read_timeout_s:g}s;
            proxy_read_timeout {config.read_timeout_s:g}s;
            proxy_next_upstream {config.next_upstream};
            proxy_next_upstream_tries {config.next_upstream_tries};
            proxy_next_upstream_timeout 10s;
            proxy_buffers 64 16k;"""


def render_config(config: NginxConfig, listen_port: int, prefix: Path) -> str:
    """The whole nginx.conf: loopback only, every path inside ``prefix``."""
    user = ""
    if os.geteuid() == 0:  # as root, workers would otherwise switch to "nobody" and lose prefix/
        user = f"user {pwd.getpwuid(0).pw_name};"
    servers = "\n".join(
        f"        server {address} max_fails={config.max_fails} "
        f"fail_timeout={config.fail_timeout_s:g}s;"
        for address in config.upstreams
    )
    upstream = ""
    proxy = ""
    if config.upstreams:
        balance = "        least_conn;\n" if config.balance == "least_conn" else ""
        upstream = (
            f"    upstream providers {{\n{balance}{servers}\n"
            f"        keepalive {config.keepalive};\n    }}\n"
        )
        settings = _proxy_settings(config)
        # A stream must reach the client as it is made (SPEC.md §14.2): nginx honours the
        # provider's X-Accel-Buffering: no anyway; buffering off here does not depend on it.
        proxy = f"""
        location / {{{settings}
        }}
        location = /v1/generate {{{settings}
            proxy_buffering off;
        }}"""
    null = ""
    if config.null_health:
        null = f"""
        location = /health {{
            default_type application/json;
            return 200 '{_NULL_HEALTH}';
        }}"""
    return f"""# Generated by benchmarks.nginx for a loopback benchmark; safe to delete.
daemon off;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    log_format lb '$msec $request_time $status $upstream_addr $upstream_status '
                  '$upstream_response_time "$http_x_request_id"';
    access_log {prefix}/access.log lb;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 64m;
{upstream}
    server {{
        listen 127.0.0.1:{listen_port};{null}{proxy}
    }}
}}
"""


@contextlib.contextmanager
def run_nginx(config: NginxConfig, workdir: Path, attempts: int = 3) -> Iterator[str]:
    """Start nginx on a free loopback port; yields its base URL; always stops it."""
    binary = find_nginx()
    prefixes: list[Path] = []

    def make(port: int) -> ManagedProcess:
        prefix = workdir / f"nginx-{len(prefixes) + 1}-{os.getpid()}"
        prefix.mkdir(parents=True, exist_ok=True)
        prefixes.append(prefix)
        conf = prefix / "nginx.conf"
        conf.write_text(render_config(config, port, prefix))
        return ManagedProcess(
            [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
            prefix / "stdout.log",
            env=dict(os.environ),
            cwd=prefix,
            name="nginx",
        )

    with contextlib.ExitStack() as stack:
        try:
            url, _ = stack.enter_context(serving(make, timeout_s=15, attempts=attempts))
        except ProcessFailedError as exc:
            raise ProcessFailedError(f"{exc}\n--- error.log ---\n{_error_log(prefixes)}") from None
        yield url


def _error_log(prefixes: list[Path]) -> str:
    with contextlib.suppress(OSError, IndexError):
        return (prefixes[-1] / "error.log").read_text(errors="replace")[-2000:]
    return ""
