"""The pytest plugin: ``pytest --provider-url=URL`` checks a provider against SPEC.md.

Registered through the ``pytest11`` entry point, so it works from an empty directory once the
kit is installed. It runs only when asked on the command line: ``--provider-url URL``, or
``--conformance`` for the provider that ``TTS_REMOTE_URL`` names. Otherwise it stays dormant,
reads no environment variable and imports nothing heavy, so installing the kit costs other
pytest runs nothing, even on a machine configured for Voicebox. Each SPEC.md clause becomes one
test item named by its ID; a failure prints the requirement, Expected and Actual, and a curl
command that reproduces it.
"""

from __future__ import annotations

import pytest

from conformance.engine.options import SuiteOptions, add_options

__all__ = ["pytest_addoption", "pytest_configure"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a SPEC.md clause checked against a provider")
    for level in ("must", "should", "may"):
        config.addinivalue_line("markers", f"{level}: a {level.upper()} clause of SPEC.md")
    options = SuiteOptions.from_config(config)
    if options is None:
        return
    import conformance.checks  # noqa: F401 - registers every check with the engine
    from conformance.engine.run import RUN_PLUGIN_NAME, ConformanceRun

    config.pluginmanager.register(ConformanceRun.start(config, options), RUN_PLUGIN_NAME)
