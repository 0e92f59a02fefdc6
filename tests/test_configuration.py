"""One configuration layer: the seed's variables are read by voicebox_api's Settings only.

Every program of the kit (the pytest plugin, the load generators, the demo) takes them through
``Settings.from_env``, so each is read once and normalised one way. A direct read anywhere else
(``os.environ["TTS_API_KEY"]``, ``os.getenv("TTS_REMOTE_URL")``...) is a second layer.
"""

from __future__ import annotations

import re
from pathlib import Path

from voicebox_api import ENV_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "voicebox_api",
    "conformance",
    "benchmarks",
    "reports",
    "orchestration",
    "measurements",
    "reference_server",
)
THE_LAYER = ROOT / "voicebox_api" / "_settings.py"
_VARIABLE = "|".join(ENV_VARIABLES.values())
_DIRECT_READ = re.compile(rf"""(?:environ(?:\.get)?|getenv)\s*[\(\[]\s*["'](?:{_VARIABLE})["']""")


def test_no_module_but_the_settings_reads_a_seed_variable() -> None:
    readers = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != THE_LAYER
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _DIRECT_READ.search(line)
    ]
    assert readers == []


def test_the_pattern_finds_a_direct_read() -> None:
    assert _DIRECT_READ.search('key = os.environ.get("TTS_API_KEY")')
    assert _DIRECT_READ.search("url = os.environ['TTS_REMOTE_URL']")
    assert _DIRECT_READ.search('mode = os.getenv("WHISPER_MODE", "local")')
    assert not _DIRECT_READ.search('env["TTS_API_KEY"] = api_key')
