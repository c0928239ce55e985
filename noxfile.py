"""Developer sessions: ``nox -s tests lint typing docs bench``."""

from __future__ import annotations

import nox


nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typing", "docs"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest options after ``--``)."""
    session.install("-e", ".[testing,fast,hook,pgp]", *_group("tests"))
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style with ruff."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """Type-check with mypy --strict."""
    session.install("-e", ".[testing,fast,hook,pgp]", *_group("typing"))
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation; any warning is an error."""
    session.install("-e", ".[testing]", *_group("docs"))
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in benchmarks/ and print their figures."""
    session.install("-e", ".[testing,fast,hook]")
    targets = session.posargs or ["convert", "import", "hook"]
    for name in targets:
        session.run("python", f"benchmarks/bench_{name}.py")
