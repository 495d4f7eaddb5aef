"""The `plex-cognite` command: `run`, `check`, `demo` and `dead-letters`.

Exit codes: 0 success; 2 configuration error (one line per problem, naming the field); 1 run failure (one line per
failed stream; the full traceback only with `--verbose`); 143 / 130 when SIGTERM / SIGINT stopped a pass (the
partial report is printed and what CDF acknowledged is committed; a second signal stops at once). Nothing secret is
ever printed: reports hold counts, and errors are built from status codes and server messages only. The command
talks to the configured Plex and CDF only: the cognite-sdk's PyPI version check is turned off at start.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from plex_cognite.cli._dead_letters import add_parser as add_dead_letters_parser
from plex_cognite.cli._dead_letters import run_command as run_dead_letters
from plex_cognite.cli._progress import ProgressPrinter
from plex_cognite.errors import ConfigurationError, one_line

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings

__all__ = ["ProgressPrinter", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plex-cognite", description="Move manufacturing data from Plex into Cognite Data Fusion."
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log at DEBUG and show full tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the configured streams (repeating on extraction.interval)")
    run.add_argument("--config", "-c", type=Path, required=True, help="YAML config file")
    run.add_argument("--once", action="store_true", help="run one pass to extraction.end and exit")
    run.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    check = commands.add_parser("check", help="validate the config and reach both APIs")
    check.add_argument("--config", "-c", type=Path, required=True, help="YAML config file")
    check.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    demo = commands.add_parser("demo", help="run a full extraction against built-in fakes of Plex and CDF")
    demo.add_argument(
        "--size", default="small", choices=("small", "medium", "large"), help="plant size (default: small)"
    )
    demo.add_argument("--seed", type=int, default=0, help="simulated plant seed")
    demo.add_argument("--pcn", default="340884", help="simulated PCN")
    demo.add_argument(
        "--sink",
        default="classic",
        choices=("classic", "datamodeling", "both"),
        help="cdf.sink: classic resources, Core Data Model nodes, or both (default: classic)",
    )
    demo.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    add_dead_letters_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `plex-cognite` console script.

    Args:
        argv: Arguments (default `sys.argv[1:]`).

    Returns:
        The exit code (0 ok, 1 run failure, 2 configuration error).
    """
    from plex_cognite.cdf.client import no_calls_home

    no_calls_home()
    args = _parser().parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    try:
        if args.command == "run":
            return _cmd_run(args.config, once=args.once, verbose=verbose)
        if args.command == "check":
            return _cmd_check(args.config, verbose=verbose)
        if args.command == "dead-letters":
            settings = _load(args.config)
            _configure_logging("DEBUG" if verbose else "WARNING", verbose=verbose)
            return run_dead_letters(args, settings)
        from plex_cognite.cli.demo import run_demo

        _configure_logging("DEBUG" if verbose else "ERROR", verbose=verbose)
        return run_demo(size=args.size, seed=args.seed, pcn=args.pcn, sink=args.sink, out=sys.stdout)
    except ConfigurationError as error:
        for line in _config_lines(error):
            print(f"plex-cognite: configuration error: {line}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("plex-cognite: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if verbose:
            traceback.print_exc(file=sys.stderr)
        print(f"plex-cognite: failed: {one_line(error)}", file=sys.stderr)
        return EXIT_FAILURE


def _config_lines(error: ConfigurationError) -> list[str]:
    """One line per problem (the loader lists several problems one per line)."""
    lines = [line.strip().removeprefix("- ").strip() for line in str(error).splitlines() if line.strip()]
    lines = lines or [type(error).__name__]
    if error.field and not any(error.field in line for line in lines):
        lines = [f"{error.field}: {line}" for line in lines]
    return lines


def _configure_logging(level: str, json: bool | None = None, *, verbose: bool = False) -> None:
    from plex_cognite.observability.logs import configure_logging

    # The HTTP libraries (the cognite-sdk's httpx2 among them) log every request at INFO: DEBUG only with --verbose.
    configure_logging(level, json=json, library_level="DEBUG" if verbose else "WARNING")


def _load(config: Path) -> ExtractorSettings:
    from plex_cognite.config import load_settings

    return load_settings(config)


def _cmd_run(config: Path, *, once: bool, verbose: bool) -> int:
    from plex_cognite.cli._run import run_passes

    settings = _load(config)
    _configure_logging("DEBUG" if verbose else settings.logging.level, settings.logging.json, verbose=verbose)
    return asyncio.run(run_passes(settings, once=once))


def _cmd_check(config: Path, *, verbose: bool) -> int:
    from plex_cognite.cli._check import CheckResult, run_checks
    from plex_cognite.cli._plan import plan_first_run

    settings = _load(config)
    _configure_logging("DEBUG" if verbose else "WARNING", verbose=verbose)
    pcns, streams = ", ".join(settings.plex.pcns), ", ".join(settings.extraction.streams)
    print(f"ok   config {config}: valid (PCNs {pcns}; streams {streams})", flush=True)

    def emit(result: CheckResult) -> None:
        print(result.render(), file=sys.stdout if result.ok else sys.stderr, flush=True)

    ok = asyncio.run(run_checks(settings, emit))
    for line in plan_first_run(settings).lines(_duration_text(settings.extraction.window.total_seconds())):
        print(line)
    if not ok:
        print("plex-cognite: check failed: run would not start; fix the FAIL lines above", file=sys.stderr)
        return EXIT_FAILURE
    print("check: every precondition of run holds")
    return EXIT_OK


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g} s"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
