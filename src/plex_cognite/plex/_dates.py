"""Plex date strings and half-open time windows.

Plex Connect writes and expects `YYYY-MM-DDThh:mm:ss.fffffffZ` (UTC, up to 7 fractional digits, seconds and
fraction optional, a trailing `Z` required on input). Python's `isoformat()` emits `+00:00`, which is not the
documented format, so everything we send goes through `format_plex_datetime`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from plex_cognite.core.windows import IntervalSet, plan_windows

__all__ = ["Window", "format_plex_datetime", "iter_windows", "parse_plex_datetime"]


_PLEX_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))"
)


def parse_plex_datetime(value: str) -> datetime:
    """Parse a Plex date string into an aware UTC datetime.

    Accepts what Plex documents, `YYYY-MM-DDThh:mm[:ss[.fffffff]]Z`, and tolerates a numeric offset instead of
    `Z` (converted to UTC), more than 7 fractional digits and surrounding whitespace. Fractions finer than a
    microsecond (Plex's 7th digit is 100 ns) are truncated, since Python datetimes stop at microseconds. Rejected,
    as Plex rejects them: a date without a time, a time without a zone, a space instead of `T`, impossible dates.

    Args:
        value: A string such as `2025-10-03T14:05:12.5230000Z` or `1999-12-31T12:34Z`.

    Returns:
        The instant as an aware datetime in UTC.

    Raises:
        ValueError: The string is not a Plex date-time (the message quotes it).

    Example:
        >>> parse_plex_datetime("2025-10-03T14:05:12.5230000Z").isoformat()
        '2025-10-03T14:05:12.523000+00:00'
    """
    match = _PLEX_DATETIME.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"not a Plex date-time (expected YYYY-MM-DDThh:mm:ss.fffffffZ): {value!r}")
    year, month, day, hour, minute = (int(match.group(n)) for n in range(1, 6))
    second = int(match.group(6) or 0)
    fraction = match.group(7) or ""
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        parsed = datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"not a valid date-time ({exc}): {value!r}") from None
    if match.group(8) is None:
        offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        if offset >= timedelta(hours=24):
            raise ValueError(f"offset out of range in {value!r}")
        parsed -= offset if match.group(9) == "+" else -offset
    return parsed


def format_plex_datetime(value: datetime) -> str:
    """Format an aware datetime the way Plex documents it: `YYYY-MM-DDThh:mm:ss.fffffffZ` in UTC.

    Args:
        value: An aware datetime (any zone; it is converted to UTC).

    Returns:
        The string with exactly 7 fractional digits and a trailing `Z`.

    Raises:
        ValueError: `value` is naive (a time without a zone is ambiguous; Plex rejects it too).

    Example:
        >>> format_plex_datetime(datetime(2025, 10, 3, 14, 5, 12, 523000, tzinfo=UTC))
        '2025-10-03T14:05:12.5230000Z'
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no zone; pass an aware datetime (UTC)")
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond:06d}0Z"


def _require_aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} {value.isoformat()} is naive; pass an aware datetime (UTC)")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A half-open time window `[start, end)` in UTC.

    Windows are the unit of incremental reading and of committing progress: a record belongs to the window whose
    `start <= t < end`, so adjacent windows never share a record.

    Attributes:
        start: Inclusive start (aware UTC).
        end: Exclusive end (aware UTC), after `start`.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = _require_aware("window start", self.start)
        end = _require_aware("window end", self.end)
        if end <= start:
            raise ValueError(f"window end {end.isoformat()} must be after its start {start.isoformat()}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def duration(self) -> timedelta:
        """`end - start`."""
        return self.end - self.start

    def contains(self, moment: datetime) -> bool:
        """Whether `start <= moment < end`."""
        return self.start <= moment < self.end

    def can_split(self, min_duration: timedelta) -> bool:
        """Whether both halves would still be at least `min_duration` long."""
        return self.duration / 2 >= min_duration and self.duration >= timedelta(microseconds=2)

    def split(self) -> tuple[Window, Window]:
        """Split at the midpoint (rounded down to a microsecond) into two adjacent half-open windows."""
        half = timedelta(microseconds=(self.duration // timedelta(microseconds=1)) // 2)
        if half <= timedelta(0):
            raise ValueError(f"window {self} is too short to split")
        middle = self.start + half
        return Window(self.start, middle), Window(middle, self.end)

    def query_params(self, begin: str = "beginDate", end: str = "endDate") -> dict[str, str]:
        """The window as Plex query parameters (`beginDate`/`endDate` in the Plex format)."""
        return {begin: format_plex_datetime(self.start), end: format_plex_datetime(self.end)}

    def __str__(self) -> str:
        return f"[{format_plex_datetime(self.start)}, {format_plex_datetime(self.end)})"


def iter_windows(start: datetime, end: datetime, size: timedelta) -> Iterator[Window]:
    """Cut `[start, end)` into consecutive half-open windows of `size` (the last one may be shorter).

    The same cut every extractor makes (`plex_cognite.core.windows.plan_windows`, aligned to `start`).

    Args:
        start: Inclusive start (aware).
        end: Exclusive end (aware); nothing is yielded when `end <= start`.
        size: Window length, positive.

    Yields:
        Adjacent windows covering exactly `[start, end)`.

    Raises:
        ValueError: `size` is not positive, or a bound is naive.
    """
    begin, stop = _require_aware("start", start), _require_aware("end", end)
    for window_start, window_end in plan_windows(IntervalSet(), begin, stop, size):
        yield Window(window_start, window_end)
