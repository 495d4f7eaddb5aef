"""WindowSpans: sparse history read in spans of consecutive planned windows, sized by the densest rate seen."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from plex_cognite.core._spans import WindowSpans
from plex_cognite.typing import TimeWindow

T0 = datetime(2025, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def hours(*indexes: int) -> list[TimeWindow]:
    return [(T0 + i * HOUR, T0 + (i + 1) * HOUR) for i in indexes]


def widths(spans: WindowSpans, records_per_span: int = 0) -> list[int]:
    """Iterate as `windows()` does: each span is observed before the next is asked for."""
    seen = []
    for span, count in spans:
        seen.append(count)
        spans.observe(span, records_per_span)
    return seen


def test_without_a_record_target_every_window_is_its_own_span() -> None:
    planned = hours(*range(5))
    assert list(WindowSpans(planned, 0)) == [(window, 1) for window in planned]


def test_empty_history_doubles_the_span_up_to_the_most() -> None:
    assert widths(WindowSpans(hours(*range(40)), 100, most=8)) == [1, 2, 4, 8, 8, 8, 8, 1]


def test_a_span_holds_about_the_target_at_the_densest_rate_seen() -> None:
    spans = WindowSpans(hours(*range(20)), 25)
    iterator = iter(spans)
    first, count = next(iterator)
    assert count == 1
    spans.observe(first, 10)  # 10 records an hour: 2 windows make 20 <= 25, 3 make 30
    assert next(iterator)[1] == 2
    assert next(iterator)[1] == 2
    spans.observe((T0, T0 + HOUR), 25)  # a busy hour: from now on one window per span
    assert next(iterator)[1] == 1
    spans.observe((T0, T0 + 4 * HOUR), 0)  # quiet hours do not lower the densest rate
    assert next(iterator)[1] == 1


def test_windows_that_do_not_touch_never_share_a_span() -> None:
    planned = hours(0, 1, 3, 4, 5, 9)
    assert [span for span, _ in WindowSpans(planned, 1_000)] == [
        (T0, T0 + HOUR),
        (T0 + HOUR, T0 + 2 * HOUR),
        (T0 + 3 * HOUR, T0 + 6 * HOUR),
        (T0 + 9 * HOUR, T0 + 10 * HOUR),
    ]


@given(
    st.lists(st.integers(0, 200), unique=True, max_size=60).map(sorted),
    st.integers(0, 50),
    st.integers(1, 10),
    st.lists(st.integers(0, 100), max_size=60),
)
def test_spans_are_the_planned_windows_in_order_each_once(
    indexes: list[int], target: int, most: int, observed: list[int]
) -> None:
    planned = hours(*indexes)
    spans = WindowSpans(planned, target, most=most)
    covered: list[TimeWindow] = []
    for number, (span, count) in enumerate(spans):
        assert 1 <= count <= most
        members = planned[len(covered) : len(covered) + count]
        assert span == (members[0][0], members[-1][1])
        assert all(a[1] == b[0] for a, b in itertools.pairwise(members))  # touching windows only
        covered += members
        spans.observe(span, observed[number] if number < len(observed) else 0)
    assert covered == planned


def test_a_negative_record_target_reads_one_window_per_span() -> None:
    planned = hours(*range(5))
    assert list(WindowSpans(planned, -5)) == [(window, 1) for window in planned]
