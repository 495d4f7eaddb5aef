from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.plex import Window, format_plex_datetime, iter_windows, parse_plex_datetime

aware = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=200)
@given(aware)
def test_format_then_parse_is_identity(moment: datetime) -> None:
    text = format_plex_datetime(moment)
    assert len(text) == len("2025-10-03T14:05:12.5230000Z")
    assert text.endswith("0Z")
    assert parse_plex_datetime(text) == moment


@settings(max_examples=200)
@given(aware, offsets)
def test_any_zone_formats_as_utc(moment: datetime, zone: timezone) -> None:
    local = moment.astimezone(zone)
    assert format_plex_datetime(local) == format_plex_datetime(moment)
    assert parse_plex_datetime(local.isoformat()) == moment


@settings(max_examples=200)
@given(aware, st.integers(min_value=0, max_value=9), st.booleans())
def test_parse_accepts_every_documented_precision(moment: datetime, digits: int, seconds: bool) -> None:
    base = moment.replace(microsecond=0) if seconds or digits else moment.replace(second=0, microsecond=0)
    text = f"{base:%Y-%m-%dT%H:%M}"
    if seconds or digits:
        text += f":{base:%S}"
        if digits:
            fraction = f"{moment.microsecond:06d}7" + "123"
            text += "." + fraction[:digits]
    parsed = parse_plex_datetime(text + "Z")
    expected_micros = int((f"{moment.microsecond:06d}7123"[:digits]).ljust(6, "0")[:6]) if digits else 0
    assert parsed == base.replace(microsecond=expected_micros)
    assert parsed.tzinfo is UTC


@settings(max_examples=100)
@given(aware)
def test_parse_then_format_canonicalises(moment: datetime) -> None:
    seven = format_plex_datetime(moment)
    assert format_plex_datetime(parse_plex_datetime(seven)) == seven
    three = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    assert format_plex_datetime(parse_plex_datetime(three)) == seven[:23] + "0000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-03T14:05:12.5230000Z", datetime(2025, 10, 3, 14, 5, 12, 523000, tzinfo=UTC)),
        ("1999-12-31T12:34Z", datetime(1999, 12, 31, 12, 34, tzinfo=UTC)),
        ("1999-12-31T12:34:56.1234567Z", datetime(1999, 12, 31, 12, 34, 56, 123456, tzinfo=UTC)),
        ("2025-10-03T16:05:12+02:00", datetime(2025, 10, 3, 14, 5, 12, tzinfo=UTC)),
        ("2025-10-03T09:05:12.5-0500", datetime(2025, 10, 3, 14, 5, 12, 500000, tzinfo=UTC)),
        ("  2025-10-03T14:05:12z ", datetime(2025, 10, 3, 14, 5, 12, tzinfo=UTC)),
    ],
)
def test_parse_examples(text: str, expected: datetime) -> None:
    assert parse_plex_datetime(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2025-10-03", "2025-10-03T14:05:12", "2025-10-03 14:05:12Z", "2025-02-30T10:00:00Z", "10/3/2025 2:05:12 PM", ""],
)
def test_parse_rejects_what_plex_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="date-time"):
        parse_plex_datetime(text)


def test_format_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_plex_datetime(datetime(2025, 1, 1))


@settings(max_examples=100)
@given(aware, st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=10**8))
def test_windows_partition_the_range(start: datetime, span_s: int, size_s: int) -> None:
    end = start + timedelta(seconds=span_s)
    size_s = max(size_s, span_s // 200 + 1)  # at most ~200 windows per example
    windows = list(iter_windows(start, end, timedelta(seconds=size_s)))
    assert windows[0].start == start
    assert windows[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert all(w.duration <= timedelta(seconds=size_s) for w in windows)


@settings(max_examples=100)
@given(aware, st.integers(min_value=2, max_value=10**12))
def test_split_halves_are_adjacent_and_cover(start: datetime, span_us: int) -> None:
    window = Window(start, start + timedelta(microseconds=span_us))
    left, right = window.split()
    assert (left.start, left.end, right.end) == (window.start, right.start, window.end)
    assert abs(left.duration - right.duration) <= timedelta(microseconds=1)


def test_window_is_half_open_and_validated() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    window = Window(start, start + timedelta(hours=1))
    assert window.contains(start)
    assert not window.contains(window.end)
    assert window.query_params() == {
        "beginDate": "2025-01-01T00:00:00.0000000Z",
        "endDate": "2025-01-01T01:00:00.0000000Z",
    }
    assert window.can_split(timedelta(minutes=30))
    assert not window.can_split(timedelta(minutes=31))
    with pytest.raises(ValueError, match="after its start"):
        Window(start, start)
    with pytest.raises(ValueError, match="naive"):
        Window(datetime(2025, 1, 1), datetime(2025, 1, 2))
    assert list(iter_windows(start, start, timedelta(days=1))) == []
    with pytest.raises(ValueError, match="positive"):
        list(iter_windows(start, window.end, timedelta(0)))
