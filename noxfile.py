"""Developer sessions: `nox -s tests lint types docs bench`."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "types", "tests", "docs"]

PYTHON = ["3.11"]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite under coverage (fails under 85%).

    `coverage run` rather than pytest-cov: the pytest11 plugin imports the package before pytest-cov would start
    measuring, which would count every module-level line as missed.
    """
    session.install("-e", ".[dev]")
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", *session.posargs)
    session.run("coverage", "report", "--fail-under=85")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format check, and the import contracts in pyproject.toml (`lint-imports`)."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy --strict on the package and on the typing tests that exercise the public API."""
    session.install("-e", ".[dev]")
    session.run("mypy", "src/", "tests/typing/")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site, warnings as errors."""
    session.install("-e", ".[dev]")
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run every benchmark under benchmarks/ and print the figures (not part of CI).

    The end-to-end benchmark runs with `--compare` (the cognite-extractor-utils peer, in its own venv
    `benchmarks/.venv-peer` created on first use, and the raw-SDK ceiling), on loopback and then with 200 ms per
    request, reporting the median of three library and raw-SDK runs. `nox -s bench -- SCRIPT [ARGS...]` runs one
    script with its own arguments instead.
    """
    session.install("-e", ".[dev]")
    if session.posargs:
        session.run("python", *session.posargs)
        return
    for script in sorted(__import__("pathlib").Path("benchmarks").glob("bench_*.py")):
        if script.name == "bench_end_to_end.py":
            session.run("python", str(script), "--compare", "--repeat", "3")
            session.run("python", str(script), "--sizes", "100k", "--compare", "--wan", "--repeat", "3")
        else:
            session.run("python", str(script))
