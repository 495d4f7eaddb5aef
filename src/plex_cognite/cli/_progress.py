"""Progress of a run on the terminal: a live table when the output is a terminal, plain periodic lines otherwise.

Both take the runner's `on_progress` snapshots (a `StreamReport` or anything with the same counters). Optional facts
are shown when a snapshot has them (attributes that are absent or None are left out):

| attribute        | shown as                      |
|------------------|-------------------------------|
| `position`       | the window being read (date)  |
| `windows_done`   | windows done ... (else `windows`, once the total is known) |
| `windows_total`  | ... of the total (`12/731`)   |
| `records_per_s`  | records/s (else computed from `read` over the stream's elapsed time) |
| `eta_s`          | time left                     |
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TextIO, cast

if TYPE_CHECKING:
    from rich.live import Live

__all__ = ["LiveProgress", "ProgressPrinter", "ProgressSnapshot", "StreamProgress", "progress_display"]


class ProgressSnapshot(Protocol):
    """What a progress display needs of a stream report (`StreamReport` has it)."""

    pcn: str
    stream: str
    read: int
    written: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class StreamProgress:
    """One stream's progress, as displayed: counters, rate, and the optional window facts."""

    pcn: str
    stream: str
    read: int
    written: int
    unchanged: int
    records_per_s: float | None
    position: datetime | None = None
    windows_done: int | None = None
    windows_total: int | None = None
    eta_s: float | None = None

    def windows(self) -> str | None:
        """`done/total` windows, `done` alone, or None when the snapshot had neither."""
        if self.windows_done is None:
            return None
        return f"{self.windows_done}/{self.windows_total}" if self.windows_total is not None else str(self.windows_done)

    def line(self) -> str:
        """`jobs[340884] read=5 written=4 unchanged=0 12.0/s window 2025-01-03 3/731 eta 4 min`."""
        parts = [f"{self.stream}[{self.pcn}] read={self.read} written={self.written} unchanged={self.unchanged}"]
        if self.records_per_s is not None:
            parts.append(f"{self.records_per_s:.1f}/s")
        if self.position is not None:
            parts.append(f"window {self.position:%Y-%m-%d}")
        windows = self.windows()
        if windows is not None:
            parts.append(windows)
        if self.eta_s is not None:
            parts.append(f"eta {format_seconds(self.eta_s)}")
        return " ".join(parts)


def format_seconds(seconds: float) -> str:
    """`45 s`, `12 min`, `1.5 h`."""
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


_ALWAYS = frozenset({"pcn", "stream", "read", "written", "unchanged"})


def _optional(snapshot: object, name: str) -> Any:
    return getattr(snapshot, name, None)


def _windows_done(snapshot: object) -> int | None:
    # `StreamReport.windows` counts completed windows; shown once the total is known (else it is noise for streams
    # that are not windowed).
    done = _optional(snapshot, "windows_done")
    if done is None and _optional(snapshot, "windows_total") is not None:
        done = _optional(snapshot, "windows")
    return cast("int | None", done)


class _Tracker:
    """Latest snapshot per (PCN, stream), with the first time each was seen (for a computed rate)."""

    def __init__(self) -> None:
        self.latest: dict[tuple[str, str], StreamProgress] = {}
        self._first_seen: dict[tuple[str, str], float] = {}

    def update(self, snapshot: ProgressSnapshot) -> StreamProgress:
        key = (snapshot.pcn, snapshot.stream)
        now = time.monotonic()
        first = self._first_seen.setdefault(key, now)
        rate = _optional(snapshot, "records_per_s")
        if rate is None and now - first >= 0.5:
            rate = snapshot.read / (now - first)
        progress = StreamProgress(
            pcn=snapshot.pcn,
            stream=snapshot.stream,
            read=snapshot.read,
            written=snapshot.written,
            unchanged=snapshot.unchanged,
            records_per_s=rate,
            position=_optional(snapshot, "position"),
            windows_done=_windows_done(snapshot),
            windows_total=_optional(snapshot, "windows_total"),
            eta_s=_optional(snapshot, "eta_s"),
        )
        self.latest[key] = progress
        return progress


class ProgressPrinter:
    """Plain lines for logs and pipes: every stream's progress at most every `interval_s` seconds.

    The first line comes after a quiet first interval (short runs print none), and a line is printed only when some
    counter moved since the last one (a stalled run does not repeat itself).

    Args:
        out: Where to print (stderr by default).
        interval_s: Minimum seconds between lines.
    """

    def __init__(self, out: TextIO | None = None, interval_s: float = 5.0) -> None:
        self.out = out if out is not None else sys.stderr
        self.interval_s = interval_s
        self._last = time.monotonic()
        self._tracker = _Tracker()
        self._printed: list[StreamProgress] | None = None

    def __call__(self, snapshot: ProgressSnapshot) -> None:
        """Record a stream's snapshot; print all streams when the interval has passed."""
        self._tracker.update(snapshot)
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return
        current = list(self._tracker.latest.values())
        if self._printed is not None and [_counts(p) for p in current] == [_counts(p) for p in self._printed]:
            return
        self._last = now
        self._printed = current
        print("progress: " + "; ".join(p.line() for p in current), file=self.out, flush=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _counts(progress: StreamProgress) -> tuple[int, int, int, datetime | None, int | None]:
    return progress.read, progress.written, progress.unchanged, progress.position, progress.windows_done


class LiveProgress:
    """A live table on a terminal (rich): one row per stream with counts, rate, window, windows and time left.

    Use it as a context manager around the run; it clears itself at the end so the final report follows.

    Args:
        out: The terminal to draw on (stderr by default).
        refresh_per_second: Redraws per second.
    """

    def __init__(self, out: TextIO | None = None, refresh_per_second: float = 4.0) -> None:
        from rich.console import Console

        self._console = Console(file=out if out is not None else sys.stderr)
        self._refresh = refresh_per_second
        self._tracker = _Tracker()
        self._live: Live | None = None

    def __call__(self, snapshot: ProgressSnapshot) -> None:
        """Record a stream's snapshot; the table shows it on the next refresh."""
        self._tracker.update(snapshot)
        if self._live is not None:
            self._live.update(self.table())

    def table(self) -> Any:
        """The current table (a `rich.table.Table`)."""
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        rows = list(self._tracker.latest.values())
        cells: dict[str, Callable[[StreamProgress], str]] = {
            "pcn": lambda p: p.pcn,
            "stream": lambda p: p.stream,
            "read": lambda p: str(p.read),
            "written": lambda p: str(p.written),
            "unchanged": lambda p: str(p.unchanged),
            "records/s": lambda p: "" if p.records_per_s is None else f"{p.records_per_s:.1f}",
            "window": lambda p: "" if p.position is None else f"{p.position:%Y-%m-%d}",
            "windows": lambda p: p.windows() or "",
            "time left": lambda p: "" if p.eta_s is None else format_seconds(p.eta_s),
        }
        # The optional columns appear once some stream has a value for them.
        shown = {name: cell for name, cell in cells.items() if name in _ALWAYS or any(cell(p) for p in rows)}
        for name in shown:
            table.add_column(name, justify="left" if name in ("pcn", "stream", "window") else "right")
        for p in rows:
            table.add_row(*(cell(p) for cell in shown.values()))
        return table

    def __enter__(self) -> Self:
        from rich.live import Live

        self._live = Live(
            self.table(), console=self._console, refresh_per_second=self._refresh, transient=True, auto_refresh=True
        )
        self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None


def progress_display(out: TextIO | None = None, *, interval_s: float = 5.0) -> LiveProgress | ProgressPrinter:
    """A live table when `out` (default stderr) is a terminal, plain lines every `interval_s` otherwise."""
    target = out if out is not None else sys.stderr
    isatty = getattr(target, "isatty", None)
    if callable(isatty) and isatty():
        return LiveProgress(target)
    return ProgressPrinter(target, interval_s)
