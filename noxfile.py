"""Sessions: ``tests``, ``lint`` (ruff) and ``typecheck`` (mypy, strict on the packages).

``scripts/test`` runs all three with ``--no-venv`` inside the virtualenv it prepared; plain
``nox`` builds its own virtualenvs instead.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
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
        session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    _install(session, "all")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    _install(session, "all")
    session.run("python", "-m", "pytest", *session.posargs)
