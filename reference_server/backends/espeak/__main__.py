"""``python -m reference_server.backends.espeak``: print a fresh ``calibration.json``."""

from __future__ import annotations

import sys

from reference_server.backends.espeak.calibration import measure_all, render_json


def main() -> int:
    sys.stdout.write(render_json(measure_all()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
