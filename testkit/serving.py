"""An ASGI app on a loopback uvicorn in a background thread, for tests that need real sockets.

``with serve(app) as url: ...`` binds port 0 (the kernel's choice, so no port can be taken in
between), waits until uvicorn has started and ``/health`` answers 200 (the same readiness rule
as for child processes, ``orchestration.processes.wait_healthy``), and always shuts it down.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any, Final

import httpx
import uvicorn

from orchestration.processes import wait_healthy

__all__ = ["serve"]

_POLL_S: Final = 0.01


@contextlib.contextmanager
def serve(
    app: Any, *, timeout_s: float = 60.0, wait_health: bool = True, access_log: bool = False
) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=access_log, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread, timeout_s)
        port = server.servers[0].sockets[0].getsockname()[1]
        base_url = f"http://127.0.0.1:{port}"
        if wait_health:
            with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as client:
                wait_healthy(client, timeout_s=timeout_s)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app's uvicorn did not start")
        time.sleep(_POLL_S)
