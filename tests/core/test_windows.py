from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.core.windows import IntervalSet, plan_windows

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
