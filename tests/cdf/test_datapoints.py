from __future__ import annotations

import json
import math
import pickle
import tracemalloc
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.cdf import PointArray
from plex_cognite.cdf._datapoints import (
    _ENCODE_CHUNK,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    encode_insert_body,
    prepare_datapoints,
)


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


# -- PointArray -------------------------------------------------------------------------------------------------------


def test_a_point_array_is_a_sequence_of_pairs() -> None:
    points = PointArray([(1, 1.0), (2, 2.5), (3, -4.0)])
    assert len(points) == 3
    assert points[0] == (1, 1.0)
    assert points[-1] == (3, -4.0)
    assert isinstance(points[1:], PointArray)
    assert points[1:] == [(2, 2.5), (3, -4.0)]
    assert list(points) == [(1, 1.0), (2, 2.5), (3, -4.0)]
    assert points == ((1, 1.0), (2, 2.5), (3, -4.0)) == points  # either side of the comparison
    assert points != [(1, 1.0), (2, 2.5)]
    assert points != [(1, 1.0), (2, 2.5), (3, 4.0)]
    assert points != "not points"
    assert repr(points) == "PointArray([(1, 1.0), (2, 2.5), (3, -4.0)])"
    assert pickle.loads(pickle.dumps(points)) == points
    with pytest.raises(TypeError):
        hash(points)


def test_a_point_array_takes_a_fraction_of_the_memory_of_tuples() -> None:
    pairs = [(1_700_000_000_000 + i, float(i)) for i in range(20_000)]
    tracemalloc.start()
    try:
        compact = PointArray(pairs)
        compact_bytes = tracemalloc.get_traced_memory()[0]
        del compact
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        as_tuples = [(t, v + 0.5) for t, v in pairs]  # fresh floats, as sums are
        tuple_bytes = tracemalloc.get_traced_memory()[0] - before
        del as_tuples
    finally:
        tracemalloc.stop()
    assert compact_bytes < 20 * len(pairs) < tuple_bytes / 4


@pytest.mark.parametrize(
    ("pairs", "clean"),
    [
        ([], True),
        ([(1, 1.0), (2, 2.0)], True),
        ([(2, 1.0), (1, 2.0)], False),  # out of order
        ([(1, 1.0), (1, 2.0)], False),  # a shared millisecond
        ([(1, math.nan)], False),
        ([(1, math.inf)], False),
        ([(1, 2e100)], False),
        ([(MIN_TIMESTAMP_MS - 1, 1.0)], False),
        ([(MAX_TIMESTAMP_MS + 1, 1.0)], False),
    ],
)
def test_a_clean_point_array_is_sent_as_it_is(pairs: list[tuple[int, float]], clean: bool) -> None:
    points = PointArray(pairs)
    assert points.is_clean() is clean
    prepared = prepare_datapoints(points)
    assert (prepared.points is points) is clean
    from_pairs = prepare_datapoints(pairs)
    assert prepared.points == from_pairs.points
    assert [reason for *_, reason in prepared.rejected] == [reason for *_, reason in from_pairs.rejected]


@settings(max_examples=100)
@given(points)
def test_a_point_array_prepares_like_its_pairs(raw: list[tuple[int, float]]) -> None:
    assert prepare_datapoints(PointArray(raw)) == prepare_datapoints(raw)


def test_a_point_array_body_matches_the_pairs_body_across_encoding_chunks() -> None:
    pairs = [(1_700_000_000_000 + 7 * i, i / 3) for i in range(2 * _ENCODE_CHUNK + 5)]
    series = [("a", pairs), ("b", pairs[:1]), ("c", [])]
    compact = [(xid, PointArray(p)) for xid, p in series]
    assert encode_insert_body(compact) == encode_insert_body(series)
    assert len(json.loads(encode_insert_body(compact))["items"][0]["datapoints"]) == len(pairs)


def test_point_arrays_are_built_from_arrays_of_the_right_kind() -> None:
    points = PointArray.from_arrays(array("q", [1, 2]), array("d", [1.0, 2.0]))
    assert points == [(1, 1.0), (2, 2.0)]
    assert points.timestamps == array("q", [1, 2])
    with pytest.raises(ValueError, match="equal length"):
        PointArray.from_arrays(array("q", [1]), array("d"))
    with pytest.raises(ValueError, match="'q' array"):
        PointArray.from_arrays(array("l", [1]), array("d", [1.0]))
