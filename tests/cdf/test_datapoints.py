from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.cdf._datapoints import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, encode_insert_body, prepare_datapoints


def test_same_millisecond_points_are_summed() -> None:
    prepared = prepare_datapoints([(10, 1.0), (5, 2.0), (10, 3.5)])
    assert prepared.points == [(5, 2.0), (10, 4.5)]
    assert prepared.merged == 1


def test_bad_points_are_rejected_with_reasons() -> None:
    prepared = prepare_datapoints(
        [
            (1, math.nan),
            (2, math.inf),
            (MIN_TIMESTAMP_MS - 1, 1.0),
            (MAX_TIMESTAMP_MS + 1, 1.0),
            (3, 2e100),
            (4, "x"),  # type: ignore[list-item]
            (5.5, 1.0),  # type: ignore[list-item]
            (6, 1.0),
        ]
    )
    assert prepared.points == [(6, 1.0)]
    assert len(prepared.rejected) == 7
    assert all(reason for _, _, reason in prepared.rejected)


def test_overflowing_sum_is_rejected() -> None:
    prepared = prepare_datapoints([(1, 9e99), (1, 9e99)])
    assert prepared.points == []
    assert len(prepared.rejected) == 1


points = st.lists(st.tuples(st.integers(0, 50), st.integers(-1000, 1000).map(float)), max_size=60)


@settings(max_examples=100)
@given(points)
def test_sums_are_preserved_per_timestamp(raw: list[tuple[int, float]]) -> None:
    prepared = prepare_datapoints(raw)
    expected: dict[int, float] = {}
    for ts, value in raw:
        expected[ts] = expected.get(ts, 0.0) + value
    assert prepared.points == sorted(expected.items())
    assert prepared.merged == len(raw) - len(expected)


_SERIES = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=20),
        st.lists(
            st.tuples(
                st.integers(min_value=MIN_TIMESTAMP_MS, max_value=MAX_TIMESTAMP_MS),
                st.floats(min_value=-1e100, max_value=1e100, allow_nan=False),
            ),
            max_size=30,
        ),
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(_SERIES)
def test_the_insert_body_is_the_json_of_one_object_per_point(series: list[tuple[str, list[tuple[int, float]]]]) -> None:
    body = json.loads(encode_insert_body(series))
    assert body == {
        "items": [
            {"externalId": xid, "datapoints": [{"timestamp": t, "value": v} for t, v in points]}
            for xid, points in series
        ]
    }
