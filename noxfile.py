"""Sessions: ``lint`` (ruff, import contracts), ``typecheck`` (mypy, strict), ``tests`` (the fast
lane: every test not marked slow, in parallel) and ``slow`` (the rest: the per-clause mutant
matrix, real servers, load and fuzzing).

``scripts/test`` runs all four with ``--no-venv`` inside the virtualenv it prepared; plain
``nox`` builds its own virtualenvs instead. Arguments after ``--`` go to pytest.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "slow"]
nox.options.reuse_existing_virtualenvs = True


def _install(session: nox.Session, extras: str) -> None:
    if session.venv_backend == "none":
        return
    session.install("torch==2.13.0")
    session.install("-e", f".[{extras}]")
    session.install("--no-deps", "resemblyzer==0.1.4")


@nox.session
def lint(session: nox.Session) -> None:
    if session.venv_backend != "none":
        session.install("ruff", "import-linter>=2.17", "-e", ".")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports", "--no-cache")


@nox.session
def typecheck(session: nox.Session) -> None:
    _install(session, "all")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The fast lane: a few minutes on two cores."""
    _install(session, "all")
    codes = [0, 5] if session.posargs else [0]
    session.run(
        "python", "-m", "pytest", "-m", "not slow", "-n", "2", *session.posargs, success_codes=codes
    )


MUTANT_MATRIX = "tests/conformance/test_suite_validity.py"


@nox.session
def slow(session: nox.Session) -> None:
    """Everything marked slow: one test at a time where they measure or load the machine, then
    the per-clause mutant matrix (one whole suite run per clause) on two workers."""
    _install(session, "all")
    # With a selection (`scripts/test -k codec`) a run may select nothing: pytest's exit 5.
    codes = [0, 5] if session.posargs else [0]
    pytest = ("python", "-m", "pytest", "-m", "slow")
    session.run(*pytest, "--ignore", MUTANT_MATRIX, *session.posargs, success_codes=codes)
    session.run(*pytest, "-n", "2", MUTANT_MATRIX, *session.posargs, success_codes=codes)
