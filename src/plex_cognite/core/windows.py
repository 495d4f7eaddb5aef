"""A mergeable set of completed half-open time windows, and the window planning built on it.

History endpoints are read in half-open windows `[start, end)`. Each window is recorded as done only after
everything read from it was acknowledged by the sink; windows may complete in any order (concurrent reads, parallel
backfill units), so completion is kept as a set of disjoint intervals that merges adjacent and overlapping ones, as
Airbyte's concurrent cursor does. `gaps(start, end)` answers "what is still to do" after any crash.

`plan_ranges` adds an optional *lookback*: the most recent `lookback` of already completed history is read again on
every run, so rows Plex receives late with a timestamp inside a done window (back-dated production entries, corrected
status logs) are still picked up.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from plex_cognite.core._iso import format_utc, parse_utc

__all__ = ["IntervalSet", "plan_ranges", "plan_windows"]


def _check(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"window bounds must be timezone-aware (UTC): {start!r}, {end!r}")


class IntervalSet:
    """Disjoint, sorted half-open intervals `[start, end)` of aware datetimes.

    Adding an interval merges it with every interval it overlaps or touches, so the set stays minimal and its size
    is the number of *gaps* in the history, not the number of windows ever completed.

    Example:
        >>> from datetime import datetime, UTC
        >>> done = IntervalSet()
        >>> done.add(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
        >>> done.add(datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 3, tzinfo=UTC))
        >>> len(done)
        1
    """

    __slots__ = ("_ends", "_starts")

    def __init__(self, intervals: Sequence[tuple[datetime, datetime]] = ()) -> None:
        self._starts: list[datetime] = []
        self._ends: list[datetime] = []
        for start, end in intervals:
            self.add(start, end)

    def add(self, start: datetime, end: datetime) -> None:
        """Mark `[start, end)` as covered; empty intervals (`start >= end`) are ignored."""
        _check(start, end)
        if start >= end:
            return
        # First interval whose end reaches `start` (touching counts), last whose start is at or before `end`.
        lo = bisect.bisect_left(self._ends, start)
        hi = bisect.bisect_right(self._starts, end)
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]

    def update(self, other: IntervalSet) -> None:
        """Merge every interval of `other` into this set."""
        for start, end in other:
            self.add(start, end)

    def covers(self, start: datetime, end: datetime) -> bool:
        """True when all of `[start, end)` is covered (an empty interval is always covered)."""
        if start >= end:
            return True
        index = bisect.bisect_right(self._starts, start) - 1
        return index >= 0 and self._ends[index] >= end

    def gaps(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Return the uncovered parts of `[start, end)`, in order."""
        _check(start, end)
        result: list[tuple[datetime, datetime]] = []
        cursor = start
        index = max(0, bisect.bisect_right(self._ends, start))
        while cursor < end and index < len(self._starts):
            s, e = self._starts[index], self._ends[index]
            if s >= end:
                break
            if s > cursor:
                result.append((cursor, s))
            cursor = max(cursor, e)
            index += 1
        if cursor < end:
            result.append((cursor, end))
        return result

    def __iter__(self) -> Iterator[tuple[datetime, datetime]]:
        return iter(zip(self._starts, self._ends, strict=True))

    def __len__(self) -> int:
        return len(self._starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    def __repr__(self) -> str:
        inner = ", ".join(f"[{s.isoformat()}, {e.isoformat()})" for s, e in self)
        return f"IntervalSet({inner})"

    def copy(self) -> IntervalSet:
        """Return an independent copy."""
        clone = IntervalSet()
        clone._starts = list(self._starts)
        clone._ends = list(self._ends)
        return clone

    def to_json(self) -> list[list[str]]:
        """Render as `[[start_iso, end_iso], ...]` (UTC, `Z` suffix)."""
        return [[format_utc(s), format_utc(e)] for s, e in self]

    @classmethod
    def from_json(cls, data: object) -> IntervalSet:
        """Parse what `to_json` produced.

        Raises:
            ValueError: When `data` is not a list of `[start, end]` ISO 8601 pairs.
        """
        if not isinstance(data, list):
            raise ValueError(f"expected a list of [start, end] pairs, got {type(data).__name__}")
        result = cls()
        for pair in data:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                raise ValueError(f"expected a [start, end] pair of ISO 8601 strings, got {pair!r}")
            result.add(parse_utc(pair[0]), parse_utc(pair[1]))
        return result


def plan_ranges(
    done: IntervalSet,
    start: datetime,
    end: datetime,
    *,
    lookback: timedelta = timedelta(0),
    size: timedelta | None = None,
) -> list[tuple[datetime, datetime]]:
    """The parts of `[start, end)` to read in this run: every gap, plus the lookback tail of completed history.

    The lookback tail is the completed history overlapping `[last_done_end - lookback, last_done_end)`, where
    `last_done_end` is the end of the latest completed interval within `[start, end)`. With `size`, the tail starts
    on the window grid `start + k * size`, so whole completed windows are read again (never part of one: datapoint
    sums per millisecond are then recomputed from every entry of that window). The tail is its own range, running to
    `end` (the gaps after it are read anyway), and is never merged with a gap just before it, so its windows stay on
    the grid. With `lookback == 0` the result is exactly `done.gaps(start, end)`.

    Args:
        done: Completed intervals.
        start: History start (aware UTC).
        end: History end, exclusive (aware UTC).
        lookback: How much of the most recent completed history to read again (>= 0).
        size: Window length for aligning the tail (> 0), or None for no alignment.

    Returns:
        Disjoint half-open ranges in time order, all within `[start, end)`.

    Raises:
        ValueError: On a negative `lookback` or a non-positive `size`.
    """
    if lookback < timedelta(0):
        raise ValueError(f"lookback must be >= 0, got {lookback}")
    if size is not None and size <= timedelta(0):
        raise ValueError(f"window size must be positive, got {size}")
    gaps = done.gaps(start, end)
    if lookback == timedelta(0) or start >= end:
        return gaps
    last_done_end = _last_done_end(done, start, end)
    if last_done_end is None:
        return gaps
    tail_start = max(start, last_done_end - lookback)
    if size is not None:
        tail_start = start + ((tail_start - start) // size) * size
    # Everything in [tail_start, last_done_end) is either done (read again) or a gap (read anyway), and the gaps
    # continue to `end` after `last_done_end`: so the plan is the gaps before the tail plus one range to `end`.
    ranges = done.gaps(start, tail_start) if start < tail_start else []
    ranges.append((tail_start, end))
    return ranges


def _last_done_end(done: IntervalSet, start: datetime, end: datetime) -> datetime | None:
    """The end of the latest completed interval overlapping `[start, end)`, clipped to `end`; None when none."""
    latest: datetime | None = None
    for s, e in done:
        if s >= end:
            break
        if e > start:
            latest = min(e, end)
    return latest


def plan_windows(
    done: IntervalSet,
    start: datetime,
    end: datetime,
    size: timedelta,
    *,
    lookback: timedelta = timedelta(0),
) -> list[tuple[datetime, datetime]]:
    """Cut what is to be read in `[start, end)` into windows of at most `size`.

    Windows are aligned to `start + k * size` so that re-planning after a partial run produces the same
    boundaries (and therefore the same requests) as the first plan.

    Args:
        done: Completed intervals.
        start: History start (aware UTC).
        end: History end, exclusive (aware UTC).
        size: Window length (> 0).
        lookback: Also read again the most recent `lookback` of completed history (see `plan_ranges`).

    Returns:
        Half-open windows in time order.
    """
    if size <= timedelta(0):
        raise ValueError(f"window size must be positive, got {size}")
    windows: list[tuple[datetime, datetime]] = []
    for gap_start, gap_end in plan_ranges(done, start, end, lookback=lookback, size=size):
        steps = (gap_start - start) // size
        cursor = gap_start
        boundary = start + (steps + 1) * size
        while cursor < gap_end:
            window_end = min(boundary, gap_end)
            windows.append((cursor, window_end))
            cursor = window_end
            boundary += size
    return windows
