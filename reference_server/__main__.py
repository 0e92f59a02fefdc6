"""``python -m reference_server``: serve the Voicebox External Provider API with uvicorn.

Run ``python -m reference_server --help`` for the flags; each has a ``VOICEBOX_REF_*``
environment variable, and flags win. SIGTERM and Ctrl-C stop accepting connections, let
in-flight requests finish (up to ``--shutdown-timeout-s``), then exit.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Sequence

import uvicorn

from reference_server.app import create_app
from reference_server.backends.registry import (
    BackendUnavailableError,
    ensure_available,
    ensure_transcription_available,
)
from reference_server.config import ServerConfig, load_config
from reference_server.logredact import install_redaction

__all__ = ["main"]

logger = logging.getLogger("reference_server")


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(argv)
    _configure_logging(config.log_level)
    try:
        ensure_available(config.backend)
        ensure_transcription_available(config.whisper)
    except BackendUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _warn_about(config)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=config.host,
            port=config.port,
            log_config=None,
            log_level=config.log_level,
            access_log=config.access_log,
            timeout_graceful_shutdown=math.ceil(config.shutdown_timeout_s),
            lifespan="on",
            server_header=False,
        )
    )
    server.run()
    return 0


def _configure_logging(level: str) -> None:
    numeric = logging.DEBUG if level == "trace" else getattr(logging, level.upper())
    logging.basicConfig(
        level=numeric, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", force=True
    )
    install_redaction(handlers=True)


def _warn_about(config: ServerConfig) -> None:
    if not config.upload_limit_is_conformant:
        logger.warning(
            "max upload bytes %d is below the 10 MiB that SPEC.md VP-6 requires",
            config.max_upload_bytes,
        )
    if config.max_text_length < 500:
        logger.warning(
            "max text length %d is below the 500 that SPEC.md GEN-5 assumes", config.max_text_length
        )
    if config.host not in ("127.0.0.1", "::1", "localhost") and config.api_key is None:
        logger.warning(
            "listening on %s without an API key: anyone who can reach it can use it", config.host
        )


if __name__ == "__main__":
    sys.exit(main())
