"""Deterministic primitives for the simulated plant: hashing, ids and Plex date strings.

Everything here is a pure function of its arguments, so any row of any plant can be recomputed from
`(seed, pcn, index)` alone: that is what keeps a 1M-row plant memory-bounded.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime, timedelta

__all__ = [
    "Kind",
    "format_plex_ms",
    "from_ms",
    "mix",
    "parse_plex_datetime",
    "plant_prefix",
    "to_ms",
    "to_us",
    "uuid_for",
    "uuid_index",
]

_M64 = (1 << 64) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Plex's documented format: seconds and up to 7 fraction digits optional, trailing Z required.
_PLEX_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?Z$")


class Kind:
    """Record kinds; each gets its own id space (the second UUID group) and hash salt."""

    TENANT = 0x0001
    BUILDING = 0x0002
    WORKCENTER = 0x0003
    PART = 0x0004
    JOB = 0x0005
    JOB_OPERATION = 0x0006
    PART_OPERATION = 0x0007
    STATUS = 0x0008
    EMPLOYEE = 0x0009
    USER = 0x000A
    LOCATION = 0x000B
    UNKNOWN_PART = 0x000C
    PRODUCTION = 0x0010
    SCRAP = 0x0011
    STATUS_ENTRY = 0x0012
    CONTAINER = 0x0013
    MUTATION = 0x0020


def mix(value: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & _M64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _M64
    return value ^ (value >> 31)


def plant_prefix(seed: int, pcn: str) -> int:
    """The 32-bit id prefix of one plant; different `(seed, pcn)` give different prefixes (with overwhelming odds)."""
    return mix((zlib.crc32(pcn.encode()) << 32) ^ (seed & 0xFFFFFFFF) ^ (seed >> 32)) & 0xFFFFFFFF


def uuid_for(prefix: int, kind: int, index: int) -> str:
    """A version-4-shaped UUID string that encodes `(prefix, kind, index)` and can be decoded by `uuid_index`."""
    return f"{prefix:08x}-{kind:04x}-4000-8000-{index:012x}"


def uuid_index(prefix: int, kind: int, value: str) -> int | None:
    """The index encoded in `value` if it is an id of that plant and kind, else None."""
    if len(value) != 36 or not value.startswith(f"{prefix:08x}-{kind:04x}-4000-8000-"):
        return None
    try:
        return int(value[24:], 16)
    except ValueError:
        return None


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware UTC datetime")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (floored) of an aware datetime."""
    return to_us(moment) // 1000


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return _EPOCH + timedelta(milliseconds=ms)


_DAY_MS = 86_400_000
_DAY_PREFIXES: dict[int, str] = {}
_CLOCK: list[str] = []  # "hh:mm:ss" for every second of a day, built on first use
_FRACTIONS: tuple[tuple[str, ...], ...] = (
    tuple(f".{ms:03d}0000Z" for ms in range(1000)),
    tuple(f".{ms:03d}Z" for ms in range(1000)),
    ("Z", *(f".{f'{ms:03d}'.rstrip('0')}Z" for ms in range(1, 1000))),
    ("Z", *(f".{ms:03d}0000Z" for ms in range(1, 1000))),
)


def format_plex_ms(ms: int, style: int = 0) -> str:
    """Render epoch ms the way Plex does; `style` picks the fraction width.

    Styles: 0 seven digits (`.5230000Z`), 1 three digits (`.523Z`), 2 trailing zeros trimmed (`.523Z`, or no fraction
    at a whole second), 3 no fraction when the millisecond part is zero, else seven digits.
    """
    day, rest = divmod(ms, _DAY_MS)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        if len(_DAY_PREFIXES) > 100_000:
            _DAY_PREFIXES.clear()
        prefix = _DAY_PREFIXES[day] = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
    if not _CLOCK:
        # Built whole, then swapped in: the fakes' server threads call this concurrently, and a thread must never
        # see a partly filled clock (an IndexError in the fake).
        _CLOCK[:] = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
    seconds, millis = divmod(rest, 1000)
    return prefix + _CLOCK[seconds] + _FRACTIONS[style % 4][millis]


def parse_plex_datetime(text: str) -> datetime:
    """Parse a Plex `YYYY-MM-DDThh:mm[:ss[.fffffff]]Z` string to an aware UTC datetime.

    The 7th fraction digit (100 ns) is truncated: Python datetimes hold microseconds.

    Raises:
        ValueError: when `text` is not in the documented format or is not a real date.
    """
    match = _PLEX_DATETIME.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Plex date-time (expected YYYY-MM-DDThh:mm:ss.fffffffZ)")
    year, month, day, hour, minute = (int(match.group(n)) for n in range(1, 6))
    second = int(match.group(6) or 0)
    micros = int((match.group(7) or "0").ljust(7, "0")[:6])
    return datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
