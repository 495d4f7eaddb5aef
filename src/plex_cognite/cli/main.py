"""The `plex-cognite` command: `run`, `check` and `demo`.

Exit codes: 0 success; 2 configuration error (one line naming the field); 1 run failure (one line with the cause;
the full traceback only with `--verbose`). Nothing secret is ever printed: reports hold counts, and errors are built
from status codes and server messages only.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from plex_cognite.errors import ConfigurationError, one_line

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings
    from plex_cognite.core.extractor import StreamReport

__all__ = ["main"]

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `plex-cognite` console script.

    Args:
        argv: Arguments (default `sys.argv[1:]`).

    Returns:
        The exit code (0 ok, 1 run failure, 2 configuration error).
    """
    args = _parser().parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    try:
        if args.command == "run":
            return _cmd_run(args.config, once=args.once, verbose=verbose)
        if args.command == "check":
            return _cmd_check(args.config, verbose=verbose)
        from plex_cognite.cli.demo import run_demo

        _configure_logging("DEBUG" if verbose else "ERROR")
        return run_demo(size=args.size, seed=args.seed, pcn=args.pcn, sink=args.sink, out=sys.stdout)
    except ConfigurationError as error:
        print(f"plex-cognite: configuration error: {_config_line(error)}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("plex-cognite: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if verbose:
            traceback.print_exc(file=sys.stderr)
        print(f"plex-cognite: failed: {one_line(error)}", file=sys.stderr)
        return EXIT_FAILURE


def _config_line(error: ConfigurationError) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = "; ".join(lines) if lines else type(error).__name__
    if error.field and error.field not in text:
        text = f"{error.field}: {text}"
    return text


def _configure_logging(level: str, json: bool | None = None) -> None:
    from plex_cognite.observability.logs import configure_logging

    configure_logging(level, json=json)


def _load(config: Path) -> ExtractorSettings:
    from plex_cognite.config import load_settings

    return load_settings(config)


class ProgressPrinter:
    """Prints per-stream counters to a stream at most every `interval_s` seconds (after a quiet first interval).

    Args:
        out: Where to print (stderr by default).
        interval_s: Minimum seconds between lines.
    """

    def __init__(self, out: TextIO | None = None, interval_s: float = 5.0) -> None:
        self.out = out if out is not None else sys.stderr
        self.interval_s = interval_s
        self._last = time.monotonic()
        self._latest: dict[tuple[str, str], StreamReport] = {}

    def __call__(self, report: StreamReport) -> None:
        """Record a stream's latest counters; print them all when the interval has passed."""
        self._latest[(report.pcn, report.stream)] = report
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return
        self._last = now
        parts = [
            f"{r.stream}[{r.pcn}] read={r.read} written={r.written} unchanged={r.unchanged}"
            for r in self._latest.values()
        ]
        print("progress: " + "; ".join(parts), file=self.out, flush=True)


def _cmd_run(config: Path, *, once: bool, verbose: bool) -> int:
    from plex_cognite.runner import run_extractors

    settings = _load(config)
    _configure_logging("DEBUG" if verbose else settings.logging.level, settings.logging.json)
    progress = ProgressPrinter()
    stop = threading.Event()
    if not once:
        _stop_on_sigterm(stop.set)
    metrics = server = None
    if settings.metrics.enabled:
        from plex_cognite.observability.health import start_metrics_server
        from plex_cognite.observability.metrics import ExtractorMetrics

        metrics = ExtractorMetrics()
        server = start_metrics_server(settings.metrics, metrics)
        print(f"metrics and health at {server.url}", file=sys.stderr)
    try:
        while True:
            report = asyncio.run(run_extractors(settings, on_progress=progress, metrics=metrics))
            print(report.format_table(), flush=True)
            if not report.ok:
                print(f"plex-cognite: run failed: {' | '.join(report.errors)}", file=sys.stderr)
                if once:
                    return EXIT_FAILURE
            if once:
                return EXIT_OK
            if stop.wait(settings.extraction.interval.total_seconds()):
                return EXIT_OK
    finally:
        if server is not None:
            server.stop()


def _stop_on_sigterm(stop: Callable[[], None]) -> None:
    # The CLI is an application, so it may own signal handling (library code never does).
    def handler(signum: int, frame: FrameType | None) -> None:
        stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def _cmd_check(config: Path, *, verbose: bool) -> int:
    settings = _load(config)
    _configure_logging("DEBUG" if verbose else "WARNING")
    print(
        f"config {config}: ok (PCNs {', '.join(settings.plex.pcns)}; streams {', '.join(settings.extraction.streams)})"
    )
    problems = asyncio.run(_check_apis(settings))
    for line in problems:
        print(line)
    return EXIT_FAILURE if any(line.startswith("FAIL") for line in problems) else EXIT_OK


async def _check_apis(settings: ExtractorSettings) -> list[str]:
    from plex_cognite.cdf.client import build_async_cognite_client
    from plex_cognite.plex.client import AsyncPlexClient
    from plex_cognite.runner import build_state_store

    lines: list[str] = []
    async with AsyncPlexClient(settings.plex) as plex:
        for pcn in settings.plex.pcns:
            try:
                count = 0
                async for buildings in plex.iter_buildings(pcn):
                    count += len(buildings)
                lines.append(f"ok   Plex {settings.plex.base_url} PCN {pcn}: {count} building(s)")
            except Exception as error:
                lines.append(f"FAIL Plex {settings.plex.base_url} PCN {pcn}: {one_line(error)}")
    cdf = build_async_cognite_client(settings.cdf)
    try:
        await cdf.assets.list(limit=1)
        lines.append(f"ok   CDF {settings.cdf.base_url} project {settings.cdf.project}: assets readable")
    except Exception as error:
        lines.append(f"FAIL CDF {settings.cdf.base_url} project {settings.cdf.project}: {one_line(error)}")
    try:
        store = build_state_store(settings, cdf)
        await store.load(settings.plex.pcns[0], "master_data")
        await store.close()
        lines.append(f"ok   state store ({settings.state.backend}) readable")
    except Exception as error:
        lines.append(f"FAIL state store ({settings.state.backend}): {one_line(error)}")
    return lines


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
