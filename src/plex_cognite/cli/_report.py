"""The run report as a table for terminals and logs, with a legend that says what each count is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["COLUMNS", "LEGEND", "format_report"]

#: The count columns, in order.
COLUMNS = ("read", "written", "datapoints", "unchanged", "deferred", "dead_lettered", "requests", "windows")

#: What each count means (printed under the table).
LEGEND = (
    "read: records read from Plex | written: CDF objects created or updated (assets, events, time series) | "
    "datapoints: datapoints CDF acknowledged",
    "unchanged: CDF objects whose content equals what this library last wrote, so nothing was sent "
    "(a re-run finds everything unchanged) | deferred: held back until the asset they link to exists",
    "dead_lettered: Plex rows rejected, kept with their reason in the dead-letter store | "
    "requests: CDF write requests | windows: history windows completed",
)


class _Stream(Protocol):
    @property
    def pcn(self) -> str: ...
    @property
    def stream(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def error(self) -> str | None: ...
    @property
    def ok(self) -> bool: ...


class _Run(Protocol):
    @property
    def streams(self) -> Sequence[_Stream]: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def ok(self) -> bool: ...


def _count(stream: object, name: str) -> int:
    return int(getattr(stream, name, 0) or 0)


def format_report(report: _Run, *, legend: bool = True) -> str:
    """A fixed-width table: one row per (PCN, stream), a total row, and (by default) the legend.

    Args:
        report: A `RunReport` (anything with `streams`, `duration_s` and `ok`; counters missing on a stream are 0).
        legend: Add the lines that explain each column.
    """
    header = f"{'pcn':<10} {'stream':<18} " + " ".join(f"{c:>13}" for c in COLUMNS) + f" {'seconds':>8}  status"
    lines = [header, "-" * len(header)]
    for stream in report.streams:
        counts = " ".join(f"{_count(stream, c):>13}" for c in COLUMNS)
        status = "ok" if stream.ok else f"FAILED: {stream.error}"
        lines.append(f"{stream.pcn:<10} {stream.stream:<18} {counts} {stream.duration_s:>8.2f}  {status}")
    totals = " ".join(f"{sum(_count(s, c) for s in report.streams):>13}" for c in COLUMNS)
    lines.append("-" * len(header))
    lines.append(f"{'total':<10} {'':<18} {totals} {report.duration_s:>8.2f}  {'ok' if report.ok else 'FAILED'}")
    if legend:
        lines.append("")
        lines.extend(LEGEND)
    return "\n".join(lines)
