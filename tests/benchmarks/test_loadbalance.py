"""Load balancing through a real nginx on loopback (short version of the benchmark)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks.loadbalance import LbConfig, main, run_suite
from benchmarks.nginx import NginxConfig, find_nginx, render_config, run_nginx
from benchmarks.results import LoadBalanceReport, load_document, write_document
from benchmarks.streaming import run_streams
from orchestration.processes import provider_command
from reference_server.config import load_config
from testkit.testing_provider import PROMPT_MARK, launch

TESTING_PROVIDER = (
    "{python} -m testkit.testing_provider --port {port} --instance-id {instance_id} "
    "--service fixed:40 --slots 2 --seconds-per-char 0.005"
)
"""The ground truth: known service times, so the policies' tails can be compared exactly."""

needs_nginx = pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed (apt-get install nginx)",
)


def test_the_default_backends_are_reference_servers_with_two_slots() -> None:
    config = LbConfig(slowdown=5.0)
    normal, slow = (
        load_config(provider_command(template, 8123, "b0")[3:], environ={})
        for template in config.commands()
    )
    assert provider_command(config.backend_command(), 8123, "b0")[1:3] == ["-m", "reference_server"]
    assert (normal.backend, normal.port, normal.instance_id) == ("synthetic", 8123, "b0")
    assert (normal.workers, normal.max_batch_size, normal.cache_bytes) == (2, None, 0)
    assert normal.queue_size > 100  # requests beyond the two in service queue, as with --slots
    assert normal.backend_options == {"latency_ms": "40"}
    assert slow.backend_options == {"latency_ms": "200"}


def test_a_custom_backend_needs_its_slow_twin() -> None:
    with pytest.raises(ValueError, match="slow backend command"):
        LbConfig(backend_cmd=TESTING_PROVIDER).commands()
    assert LbConfig(backend_cmd=TESTING_PROVIDER, parts=("share",)).commands() == [TESTING_PROVIDER]
    with pytest.raises(SystemExit):
        main(["--backend-cmd", TESTING_PROVIDER, "--parts", "slow"])


def test_generated_config_keeps_everything_in_the_prefix_and_on_loopback(tmp_path: Path) -> None:
    config = NginxConfig(upstreams=["127.0.0.1:1", "127.0.0.1:2"], balance="least_conn")
    text = render_config(config, 8123, tmp_path)
    assert "daemon off;" in text
    assert "worker_processes 1;" in text
    assert "listen 127.0.0.1:8123;" in text
    assert "least_conn;" in text
    assert "server 127.0.0.1:2 max_fails=1 fail_timeout=2s;" in text
    for directive in ("pid", "error_log", "access_log", "client_body_temp_path", "proxy_temp_path"):
        line = next(line for line in text.splitlines() if line.strip().startswith(directive))
        assert str(tmp_path) in line, line
    assert "non_idempotent" not in text


def test_streams_pass_through_the_balancer_unbuffered(tmp_path: Path) -> None:
    text = render_config(NginxConfig(upstreams=["127.0.0.1:1"]), 8123, tmp_path)
    generate = text.split("location = /v1/generate {", 1)[1].split("}", 1)[0]
    assert "proxy_buffering off;" in generate
    assert "proxy_pass http://providers;" in generate
    assert "proxy_ignore_headers" not in text  # X-Accel-Buffering from the provider is honoured


@needs_nginx
@pytest.mark.nginx
def test_generated_config_passes_nginx_t(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_config(NginxConfig(upstreams=["127.0.0.1:9"]), 1, tmp_path))
    completed = subprocess.run(
        [find_nginx(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "e.log")],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr


@needs_nginx
@pytest.mark.nginx
@pytest.mark.slow
def test_streams_pass_nginx_as_they_are_made(tmp_path: Path) -> None:
    flags = (
        "--service", "fixed:5", "--stream-chunks", "6", "--stream-chunk-ms", "60",
        "--seconds-per-char", "0.005", "--stream-without-accel-header",
    )  # fmt: skip
    body = {"text": "Hello there", "voice_prompt": {"provider": PROMPT_MARK}, "seed": 1}
    with launch(tmp_path, *flags) as (provider, _):
        upstream = provider.removeprefix("http://")
        with run_nginx(NginxConfig(upstreams=[upstream]), tmp_path) as url:
            records, _ = asyncio.run(run_streams(url, body, requests=3, concurrency=1))
    for record in records:
        assert record.ok, record.error
        assert record.ttfp_s is not None
        assert record.total_s is not None
        # Held back, the first frame would come with the last, 300 ms after the request. (nginx
        # 1.x with its default buffering passes a fast reader's stream on as well; buffering off
        # keeps a slow reader's stream from being absorbed into nginx's buffers instead.)
        assert record.ttfp_s < 0.5 * record.total_s, (record.ttfp_s, record.total_s)


@needs_nginx
@pytest.mark.nginx
def test_nginx_null_provider_answers_health(tmp_path: Path) -> None:
    import httpx

    with run_nginx(NginxConfig(null_health=True), tmp_path) as url:
        body = httpx.get(f"{url}/health", timeout=5, trust_env=False).json()
    assert body["status"] == "healthy"
    assert not list(tmp_path.glob("*/nginx.pid")), "nginx left its pid file behind"


@needs_nginx
@pytest.mark.nginx
@pytest.mark.slow
def test_share_scaling_failover_and_slow_backend(tmp_path: Path) -> None:
    config = LbConfig(
        backends=2, backend_cmd=TESTING_PROVIDER,
        slow_backend_cmd=f"{TESTING_PROVIDER} --service-scale 5", slowdown=5.0,
        rate=40.0, duration_s=3.0, scaling_duration_s=2.5, kill_at_s=1.5, loops_per_backend=4,
    )  # fmt: skip
    report = run_suite(config, tmp_path)
    path = write_document(report, tmp_path / "lb.json")
    assert isinstance(load_document(path), LoadBalanceReport)

    assert report.share is not None
    assert report.share.unattributed == 0
    assert sum(report.share.requests.values()) == report.share.run.ok == 120, report.share
    assert report.share.max_deviation <= 0.05, report.share.requests  # round robin

    one, two = report.scaling
    assert two.ok_rps > 1.3 * one.ok_rps, report.scaling  # measured about 2x on an idle machine

    failover = report.failover
    assert failover is not None
    assert failover.killed == "b0"
    after = failover.requests_after_kill_by_backend
    assert set(after) <= {"b1", "none"}, failover
    assert failover.burst.errors == failover.run.errors <= 3, failover  # those in flight on b0
    assert failover.run.ok + failover.run.errors == failover.run.requests == 120, failover

    slow = report.slow_backend
    assert slow is not None
    round_robin, least_conn = slow.by_policy["round_robin"], slow.by_policy["least_conn"]
    assert round_robin.latency is not None
    assert least_conn.latency is not None
    assert least_conn.latency.p99 < round_robin.latency.p99, slow
    assert least_conn.served_by["b0"] < round_robin.served_by["b0"], slow


@needs_nginx
@pytest.mark.nginx
@pytest.mark.slow
def test_the_default_reference_servers_share_the_load_behind_nginx(tmp_path: Path) -> None:
    config = LbConfig(backends=2, rate=20.0, duration_s=2.0, parts=("share",))
    report = run_suite(config, tmp_path)
    assert report.share is not None
    assert report.share.requests == {"b0": 20, "b1": 20}
    assert report.share.run.errors == 0
    assert report.share.run.server_rtf is not None  # the server's Server-Timing came through
