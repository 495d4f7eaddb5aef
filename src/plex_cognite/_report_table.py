"""The run report as a table with a legend that says what each count is (`RunReport.format_table`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["COLUMNS", "LEGEND", "format_report"]

#: The count columns, in order.
COLUMNS = ("read", "written", "datapoints", "unchanged", "deferred", "dead_lettered", "requests", "windows")

#: What each count means (printed under the table).
LEGEND = (
    "read           records read from Plex",
    "written        CDF objects created or updated (assets, events, time series)",
    "datapoints     datapoints CDF acknowledged",
    "unchanged      CDF objects equal to what this library last wrote there, so nothing was sent (on a re-run: all)",
    "deferred       held back until the asset they link to exists (retried later in the run and on the next run)",
    "dead_lettered  Plex rows rejected, kept with the reason in the dead-letter store",
    "requests       CDF write requests",
    "windows        history windows completed",
)

#: Row order within a PCN: the built-in streams in the order they run, then any others as they finished.
_STREAM_ORDER = ("master_data", "jobs", "production", "scrap", "workcenter_status")


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

    Rows are ordered by PCN, then stream (the built-ins in the order they run), so the table is the same on every
    run of the same data.

    Args:
        report: A `RunReport` (anything with `streams`, `duration_s` and `ok`; counters missing on a stream are 0).
        legend: Add the lines that explain each column.
    """
    pcns: dict[str, int] = {}
    for stream in report.streams:
        pcns.setdefault(stream.pcn, len(pcns))
    rows = sorted(
        enumerate(report.streams),
        key=lambda pair: (
            pcns[pair[1].pcn],
            _STREAM_ORDER.index(pair[1].stream) if pair[1].stream in _STREAM_ORDER else len(_STREAM_ORDER),
            pair[0],
        ),
    )
    widths = [max(len(c), 8) for c in COLUMNS]
    header = f"{'pcn':<10} {'stream':<18} " + " ".join(f"{c:>{w}}" for c, w in zip(COLUMNS, widths, strict=True))
    header += f" {'seconds':>8}  status"
    lines = [header, "-" * len(header)]

    def counts(values: Sequence[int]) -> str:
        return " ".join(f"{v:>{w}}" for v, w in zip(values, widths, strict=True))

    for _, stream in rows:
        status = "ok" if stream.ok else f"FAILED: {stream.error}"
        row = counts([_count(stream, c) for c in COLUMNS])
        lines.append(f"{stream.pcn:<10} {stream.stream:<18} {row} {stream.duration_s:>8.2f}  {status}")
    totals = counts([sum(_count(s, c) for s in report.streams) for c in COLUMNS])
    lines.append("-" * len(header))
    lines.append(f"{'total':<10} {'':<18} {totals} {report.duration_s:>8.2f}  {'ok' if report.ok else 'FAILED'}")
    if legend:
        lines.append("")
        lines.extend(LEGEND)
    return "\n".join(lines)
