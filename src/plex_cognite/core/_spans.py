"""Sparse history read in spans: runs of consecutive planned windows fetched with one request.

A stream with a few hundred records a day (scrap, status logs, container moves) would otherwise spend one request,
and on a distant network one round trip, per day of history. A span is committed as one range once all its writes
were acknowledged, exactly as a window is; since it is a union of whole planned windows, a re-plan after a crash asks
for the same windows, only perhaps grouped differently.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from plex_cognite.typing import TimeWindow

__all__ = ["WindowSpans"]


class WindowSpans:
    """Hands out spans of consecutive planned windows, each expected to hold about `records` records.

    The expectation is the densest rate seen so far (records per second of history) times the span's length, so a
    quiet week followed by a busy day does not make one huge request. A span holds at most `most` windows; the first
    is one window (nothing is known of the stream yet) and the most a span may hold doubles with each span after
    it. Windows that do not touch (done history between them) never share a span. With `records` 0 every span is one
    window.

    Args:
        planned: The planned windows, in time order.
        records: Records a span should hold (0: one window per span).
        most: Most windows in one span (>= 1).
    """

    __slots__ = ("_densest", "_limit", "_most", "_planned", "_records", "_seconds_left")

    def __init__(self, planned: Sequence[TimeWindow], records: int, *, most: int = 8) -> None:
        self._planned = planned
        self._records = max(0, records)
        self._most = max(1, most)
        self._limit = 1 if self._records else 0  # 0: never more than one window
        self._densest = 0.0
        self._seconds_left = sum((end - start).total_seconds() for start, end in planned)

    def __iter__(self) -> Iterator[tuple[TimeWindow, int]]:
        """Yield `(span, windows in it)` in time order; each span is sized when it is asked for."""
        planned = self._planned
        index = 0
        while index < len(planned):
            start, end = planned[index]
            width = 1
            while width < self._limit and index + width < len(planned):
                next_start, next_end = planned[index + width]
                if next_start != end or self._densest * (next_end - start).total_seconds() > self._records:
                    break
                end = next_end
                width += 1
            self._limit = min(self._most, 2 * self._limit)
            self._seconds_left -= (end - start).total_seconds()
            index += width
            yield (start, end), width

    @property
    def records_left(self) -> int | None:
        """The records expected in the windows not handed out yet, at the densest rate seen; None before any."""
        return round(self._densest * self._seconds_left) if self._densest else None

    def observe(self, span: TimeWindow, records: int) -> None:
        """Learn the density of the history from a span that was read (`records` in it)."""
        seconds = (span[1] - span[0]).total_seconds()
        if seconds > 0:
            self._densest = max(self._densest, records / seconds)
