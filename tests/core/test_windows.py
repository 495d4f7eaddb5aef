from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.core.windows import IntervalSet, plan_ranges, plan_windows

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def t(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


intervals = st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)), max_size=15)


def covered_minutes(pairs: list[tuple[int, int]]) -> set[int]:
    return {m for a, b in pairs for m in range(a, b)}


@settings(max_examples=200)
@given(pairs=intervals)
def test_interval_set_equals_the_union_of_what_was_added(pairs: list[tuple[int, int]]) -> None:
    done = IntervalSet()
    for a, b in pairs:
        done.add(t(a), t(b))
    listed = list(done)
    # disjoint, sorted, not touching (merged), non-empty
    for (_s1, e1), (s2, _) in itertools.pairwise(listed):
        assert e1 < s2
    assert all(s < e for s, e in listed)
    as_minutes = {
        m
        for s, e in listed
        for m in range(int((s - BASE).total_seconds() // 60), int((e - BASE).total_seconds() // 60))
    }
    assert as_minutes == covered_minutes(pairs)


@settings(max_examples=200)
@given(pairs=intervals, order=st.randoms())
def test_interval_set_is_order_independent(pairs: list[tuple[int, int]], order: object) -> None:
    first, second = IntervalSet(), IntervalSet()
    for a, b in pairs:
        first.add(t(a), t(b))
    shuffled = list(pairs)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    for a, b in shuffled:
        second.add(t(a), t(b))
    assert first == second


@settings(max_examples=200)
@given(pairs=intervals, lo=st.integers(0, 100), hi=st.integers(0, 100))
def test_gaps_are_exactly_the_uncovered_part(pairs: list[tuple[int, int]], lo: int, hi: int) -> None:
    done = IntervalSet([(t(a), t(b)) for a, b in pairs])
    gaps = done.gaps(t(lo), t(hi))
    gap_minutes = {
        m for s, e in gaps for m in range(int((s - BASE).total_seconds() // 60), int((e - BASE).total_seconds() // 60))
    }
    assert gap_minutes == set(range(lo, hi)) - covered_minutes(pairs)
    assert done.covers(t(lo), t(hi)) == (not gaps)


@settings(max_examples=100)
@given(pairs=intervals, size=st.integers(1, 30))
def test_plan_windows_covers_the_gaps_with_aligned_windows(pairs: list[tuple[int, int]], size: int) -> None:
    done = IntervalSet([(t(a), t(b)) for a, b in pairs])
    windows = plan_windows(done, t(0), t(100), timedelta(minutes=size))
    for s, e in windows:
        assert e - s <= timedelta(minutes=size)
        # never straddles an aligned boundary
        assert (s - BASE) // timedelta(minutes=size) == (e - BASE - timedelta(microseconds=1)) // timedelta(
            minutes=size
        )
    after = done.copy()
    for s, e in windows:
        after.add(s, e)
    assert after.covers(t(0), t(100))


def minutes_of(ranges: list[tuple[datetime, datetime]]) -> set[int]:
    return {
        m
        for s, e in ranges
        for m in range(round((s - BASE) / timedelta(minutes=1)), round((e - BASE) / timedelta(minutes=1)))
    }


def expected_plan(pairs: list[tuple[int, int]], lo: int, hi: int, lookback: int, size: int | None) -> set[int]:
    """Reference model in whole minutes: the gaps, plus the done minutes of the (window-aligned) lookback tail."""
    done = covered_minutes(pairs) & set(range(lo, hi))
    planned = set(range(lo, hi)) - done
    if lookback and done:
        last_end = max(done) + 1
        tail_from = max(lo, last_end - lookback)
        if size:
            tail_from = lo + (tail_from - lo) // size * size
        planned |= {m for m in done if tail_from <= m < last_end}
    return planned


@settings(max_examples=200)
@given(
    pairs=intervals,
    lo=st.integers(0, 100),
    hi=st.integers(0, 100),
    lookback=st.integers(0, 60),
    size=st.one_of(st.none(), st.integers(1, 30)),
)
def test_plan_ranges_is_the_gaps_plus_the_lookback_tail(
    pairs: list[tuple[int, int]], lo: int, hi: int, lookback: int, size: int | None
) -> None:
    done = IntervalSet([(t(a), t(b)) for a, b in pairs])
    ranges = plan_ranges(
        done,
        t(lo),
        t(hi),
        lookback=timedelta(minutes=lookback),
        size=None if size is None else timedelta(minutes=size),
    )
    # sorted, disjoint, non-empty, within [lo, hi); only the tail may touch the gap before it
    assert all(t(lo) <= s < e <= t(hi) for s, e in ranges)
    for (_, e1), (s2, _) in itertools.pairwise(ranges):
        assert e1 <= s2
    assert sum(1 for (_, e1), (s2, _) in itertools.pairwise(ranges) if e1 == s2) <= 1
    if lookback and size and len(ranges) > 1 and ranges[-2][1] == ranges[-1][0]:
        assert (ranges[-1][0] - t(lo)) % timedelta(minutes=size) == timedelta(0)  # the tail starts on the grid
    assert minutes_of(ranges) == expected_plan(pairs, lo, hi, lookback, size)
    if lookback == 0:
        assert ranges == done.gaps(t(lo), t(hi)) if lo < hi else ranges == []


@settings(max_examples=100)
@given(pairs=intervals, size=st.integers(1, 30), lookback=st.integers(0, 60))
def test_plan_windows_with_lookback_reads_whole_aligned_windows(
    pairs: list[tuple[int, int]], size: int, lookback: int
) -> None:
    done = IntervalSet([(t(a), t(b)) for a, b in pairs])
    windows = plan_windows(done, t(0), t(100), timedelta(minutes=size), lookback=timedelta(minutes=lookback))
    assert minutes_of(windows) == expected_plan(pairs, 0, 100, lookback, size)
    for (_, e1), (s2, _) in itertools.pairwise(windows):
        assert e1 <= s2
    # a completed window is read again whole, never in part: every grid window holding a re-read minute is planned
    planned = minutes_of(windows)
    for minute in planned & covered_minutes(pairs):
        cell = minute // size * size
        assert set(range(cell, min(cell + size, 100))) <= planned


def test_plan_ranges_examples() -> None:
    done = IntervalSet([(t(0), t(60)), (t(70), t(90))])
    day = timedelta(minutes=10)
    # no lookback: exactly the gaps
    assert plan_ranges(done, t(0), t(100), size=day) == [(t(60), t(70)), (t(90), t(100))]
    # 5 minutes of lookback from the last done end (90) widen to the window [80, 90): one range to the end
    assert plan_ranges(done, t(0), t(100), lookback=timedelta(minutes=5), size=day) == [(t(60), t(70)), (t(80), t(100))]
    # a tail reaching into a gap covers it
    assert plan_ranges(done, t(0), t(100), lookback=timedelta(minutes=25), size=day) == [(t(60), t(100))]
    # a gap just before the tail stays its own range, so the tail's windows stay on the grid
    holey = IntervalSet([(t(0), t(55)), (t(70), t(90))])
    assert plan_ranges(holey, t(0), t(100), lookback=timedelta(minutes=25), size=day) == [
        (t(55), t(60)),
        (t(60), t(100)),
    ]
    # everything done and `end` fixed: only the tail is read
    full = IntervalSet([(t(0), t(100))])
    assert plan_ranges(full, t(0), t(100), lookback=timedelta(minutes=15), size=day) == [(t(80), t(100))]
    # nothing done yet: nothing to look back on
    assert plan_ranges(IntervalSet(), t(0), t(100), lookback=timedelta(minutes=15)) == [(t(0), t(100))]
    # the tail is measured from the last done end inside [start, end), and clipped to it
    assert plan_ranges(done, t(0), t(80), lookback=timedelta(minutes=5)) == [(t(60), t(70)), (t(75), t(80))]
    with pytest.raises(ValueError, match="lookback"):
        plan_ranges(done, t(0), t(100), lookback=timedelta(minutes=-1))


def test_json_round_trip_and_adjacent_merge() -> None:
    done = IntervalSet()
    done.add(t(0), t(10))
    done.add(t(10), t(20))
    done.add(t(30), t(40))
    assert len(done) == 2
    assert IntervalSet.from_json(done.to_json()) == done
    assert done.to_json()[0] == ["2025-01-01T00:00:00Z", "2025-01-01T00:20:00Z"]


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        IntervalSet().add(datetime(2025, 1, 1), datetime(2025, 1, 2))


def test_from_json_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="pair"):
        IntervalSet.from_json([["2025-01-01T00:00:00Z"]])
