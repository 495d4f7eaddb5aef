"""`plex-cognite dead-letters list | show | replay | purge`: the dead-letter queue from the command line.

Works with any store (`dead_letters.backend`: local file or CDF RAW).

- `list`: how many letters, by stream and reason.
- `show`: the letters themselves, one JSON object per line (payload included), oldest first.
- `replay`: re-process the letters through the current mapping (see `plex_cognite.replay`), write what now
  passes into CDF and remove those letters; what still fails stays with its new reason.
- `purge --yes`: delete the letters that match the filters.

`--stream`, `--pcn` and `--since` (an ISO 8601 time, or a duration back from now such as `6h` or `2d`) filter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings
    from plex_cognite.typing import DeadLetter

__all__ = ["add_parser", "run_command"]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}


def since_time(text: str, *, now: datetime | None = None) -> datetime:
    """`--since`: an ISO 8601 time (naive = UTC), or a duration back from now (`90m`, `6h`, `2d`).

    Raises:
        argparse.ArgumentTypeError: Neither.
    """
    match = _DURATION.match(text.strip())
    if match:
        return (now or datetime.now(UTC)) - timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time or a duration: {text!r} (try 2025-06-01T00:00Z or 6h)") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `dead-letters` with its three actions to the CLI's sub-commands."""
    letters = commands.add_parser("dead-letters", help="list, show or replay the rejected records")
    actions = letters.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("list", "counts by stream and reason"),
        ("show", "the letters, one JSON object per line, oldest first"),
        ("replay", "re-process the letters through the current mapping and write what now passes"),
        ("purge", "delete the letters that match the filters (needs --yes)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--config", "-c", type=Path, required=True, help="YAML config file")
        action.add_argument("--stream", help="only this stream's letters")
        action.add_argument("--since", type=since_time, help="only letters since then (ISO 8601, or 6h, 2d)")
        if name != "replay":
            action.add_argument("--pcn", help="only this PCN's letters")
        if name == "purge":
            action.add_argument("--yes", action="store_true", help="really delete them")
        action.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def run_command(args: argparse.Namespace, settings: ExtractorSettings, out: TextIO | None = None) -> int:
    """Run `dead-letters <action>`; return the exit code (output to `out`, default stdout)."""
    out = out or sys.stdout
    from plex_cognite.replay import purge_dead_letters, read_dead_letters, replay_dead_letters

    if args.action == "purge":
        if not args.yes:
            print("plex-cognite: dead-letters purge deletes letters for good; add --yes to do it", file=sys.stderr)
            return 2
        removed = asyncio.run(purge_dead_letters(settings, pcn=args.pcn, stream=args.stream, since=args.since))
        print(f"{removed} dead letter(s) deleted from {_where(settings)}", file=out)
        return 0
    if args.action == "replay":
        streams = [args.stream] if args.stream else None
        report = asyncio.run(replay_dead_letters(settings, streams=streams, since=args.since))
        print(report.format_table(), file=out)
        return 0
    letters = asyncio.run(read_dead_letters(settings, pcn=args.pcn, stream=args.stream, since=args.since))
    if args.action == "show":
        for letter in letters:
            print(json.dumps(letter.to_json(), default=str, ensure_ascii=False), file=out)
        return 0
    print(format_counts(letters, where=_where(settings)), file=out)
    return 0


def format_counts(letters: list[DeadLetter], *, where: str) -> str:
    """Counts by (PCN, stream, reason), largest first, and the total."""
    counts = Counter((letter.pcn, letter.stream, _short(letter.reason)) for letter in letters)
    lines = [f"{len(letters)} dead letter(s) in {where}"]
    if counts:
        lines.append(f"{'count':>7}  {'pcn':<10} {'stream':<18} reason")
        lines.extend(f"{n:>7}  {pcn:<10} {stream:<18} {reason}" for (pcn, stream, reason), n in counts.most_common())
    return "\n".join(lines)


def _short(reason: str, limit: int = 100) -> str:
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


def _where(settings: ExtractorSettings) -> str:
    config = settings.dead_letters
    if config.backend == "raw":
        return f"CDF RAW {config.raw_db}/{config.raw_table}"
    return str(config.path)
