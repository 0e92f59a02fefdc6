"""``python -m voicebox_api.ping URL`` (``voicebox-provider-ping``): the connection test.

Exit codes: 0 ok, 2 usage, 3 unreachable, 4 key rejected or required, 5 loading/unhealthy,
6 generation failed or invalid audio, 7 not a provider. ``--json`` prints one JSON object.
The key defaults to ``TTS_API_KEY``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from voicebox_api._ping import EXIT_CODES, GenerationTiming, PingReport, ping, render
from voicebox_api._settings import Settings

__all__ = ["EXIT_CODES", "GenerationTiming", "PingReport", "main", "ping", "render"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="voicebox-provider-ping",
        description="Test a Voicebox provider: /health, the key, one short generation.",
        epilog="exit codes: 0 ok, 2 usage, 3 unreachable, 4 auth rejected, 5 loading/unhealthy, "
        "6 generation failed or invalid audio, 7 not a provider",
    )
    parser.add_argument("url", help="the provider's base URL, e.g. http://gpu-box:8000")
    parser.add_argument("--api-key", help="the key (default: TTS_API_KEY)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds in all (default 5)")
    parser.add_argument("--language", default="en")
    args = parser.parse_args(argv)
    key = args.api_key
    if key is None:
        secret = Settings.from_env().tts_api_key
        key = secret.get_secret_value() if secret is not None else None
    report = ping(args.url, key, budget_s=args.budget, language=args.language)
    print(json.dumps(report.as_json(), indent=2) if args.json else render(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
