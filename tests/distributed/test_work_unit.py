"""WorkUnit is a plain value: deterministic id, JSON and pickle round trips, validation; reports add up."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.distributed import BackfillReport, UnitResult, WorkUnit
from plex_cognite.errors import PlexCogniteError

T0 = datetime(2025, 1, 1, tzinfo=UTC)

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
units = st.builds(
    lambda pcn, stream, start, length: WorkUnit(pcn, stream, start, start + length),
    st.from_regex(r"[1-9][0-9]{0,8}", fullmatch=True),
    st.sampled_from(["production", "scrap", "workcenter_status"]),
    moments,
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=400)),
)


@settings(max_examples=60)
@given(units)
def test_json_and_pickle_round_trips_keep_the_unit_and_its_id(unit: WorkUnit) -> None:
    through_json = WorkUnit.from_json(json.loads(json.dumps(unit.to_json())))
    through_pickle = pickle.loads(pickle.dumps(unit))
    assert through_json == through_pickle == unit
    assert through_json.id == through_pickle.id == unit.id


@settings(max_examples=60)
@given(units, units)
def test_ids_are_equal_exactly_when_units_are(one: WorkUnit, two: WorkUnit) -> None:
    assert (one.id == two.id) == (one == two)


def test_id_is_readable_and_bounds_are_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    unit = WorkUnit("340884", "scrap", datetime(2025, 1, 1, 2, tzinfo=plus_two), T0 + timedelta(days=7))
    assert unit.start == T0
    assert unit.start.tzinfo is UTC
    assert unit.id == "340884:scrap:20250101T000000Z:20250108T000000Z"
    assert unit.to_json()["start"] == "2025-01-01T00:00:00Z"
    assert unit.window == (T0, T0 + timedelta(days=7))


@pytest.mark.parametrize(
    ("pcn", "stream", "start", "end", "message"),
    [
        ("1", "scrap", T0, T0, "empty"),
        ("1", "scrap", T0 + timedelta(1), T0, "empty"),
        ("1", "scrap", datetime(2025, 1, 1), T0 + timedelta(1), "timezone-aware"),
        ("", "scrap", T0, T0 + timedelta(1), "PCN"),
    ],
)
def test_invalid_units_are_refused(pcn: str, stream: str, start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkUnit(pcn, stream, start, end)


def test_from_json_refuses_a_forged_id_and_missing_fields() -> None:
    data = WorkUnit("1", "scrap", T0, T0 + timedelta(1)).to_json()
    with pytest.raises(ValueError, match="does not match"):
        WorkUnit.from_json({**data, "id": "1:scrap:x:y"})
    with pytest.raises(ValueError, match="pcn"):
        WorkUnit.from_json({"stream": "scrap", "start": data["start"], "end": data["end"]})
    with pytest.raises(ValueError, match="timezone"):
        WorkUnit.from_json({**data, "id": None, "start": "2025-01-01T00:00:00"})


def test_report_counts_failures_and_raises_naming_them() -> None:
    a = WorkUnit("1", "scrap", T0, T0 + timedelta(1))
    b = WorkUnit("1", "production", T0, T0 + timedelta(1))
    report = BackfillReport(
        [UnitResult(a, "done", read=5, written=3), UnitResult(b, "failed", read=2, error="PlexAPIError: 500")]
    )
    assert not report.ok
    assert report.total("read") == 7
    assert report.errors == [f"{b.id}: PlexAPIError: 500"]
    assert "1 done, 0 skipped, 1 failed" in report.format_table()
    assert report.results[1].as_dict()["unit"] == b.to_json()
    with pytest.raises(PlexCogniteError, match=b.id):
        report.raise_for_errors()
