"""SimulatedPlant: determinism, windows, awkward cases, scale presets."""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.testing.plant import PlantSize, SimulatedPlant, dead_letter_reason, parse_plex_datetime

PLEX_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")
CLEAN = SimulatedPlant(seed=3).with_size(malformed_every=0)
HISTORY = ("production", "scrap", "workcenter_status")
TIME_FIELD = {"production": "transactionDate", "scrap": "transactionDate", "workcenter_status": "logDate"}


def rows_of(
    plant: SimulatedPlant, stream: str, begin: datetime | None = None, end: datetime | None = None
) -> list[dict[str, Any]]:
    return list(
        {
            "production": plant.production_entries,
            "scrap": plant.scrap_entries,
            "workcenter_status": plant.workcenter_status_entries,
        }[stream](begin, end)
    )


@functools.cache
def clean_rows(stream: str) -> list[tuple[datetime, dict[str, Any]]]:
    """The clean plant's full history of `stream` with each row's parsed time (computed once)."""
    return [(parse_plex_datetime(row[TIME_FIELD[stream]]), row) for row in rows_of(CLEAN, stream)]


def test_same_seed_and_pcn_give_identical_rows() -> None:
    first, second = SimulatedPlant(seed=7), SimulatedPlant(seed=7)
    assert list(first.jobs()) == list(second.jobs())
    assert list(first.parts()) == list(second.parts())
    assert first.workcenters() == second.workcenters()
    assert rows_of(first, "production") == rows_of(second, "production")
    assert first.tenant_id == second.tenant_id


@pytest.mark.parametrize(("other_seed", "other_pcn"), [(8, "340884"), (7, "300757"), (0, "1")])
def test_different_seed_or_pcn_gives_disjoint_ids(other_seed: int, other_pcn: str) -> None:
    first, second = SimulatedPlant(seed=7), SimulatedPlant(seed=other_seed, pcn=other_pcn)

    def ids(plant: SimulatedPlant) -> set[str]:
        return (
            {row["id"] for row in plant.jobs() if "id" in row}
            | {row["id"] for row in plant.parts()}
            | {row["workcenterId"] for row in plant.workcenters()}
            | {row["id"] for row in plant.buildings()}
            | {plant.tenant_id}
        )

    assert not ids(first) & ids(second)


def test_sizes_and_validation() -> None:
    assert PlantSize.named("large").jobs == 200_000
    assert PlantSize.named("large").production_entries == 1_000_000
    assert SimulatedPlant(size="medium").size.workcenters == 60
    with pytest.raises(ValueError, match="unknown plant size"):
        PlantSize.named("huge")
    with pytest.raises(ValueError, match="digits"):
        SimulatedPlant(pcn="PCN1")


def test_large_plant_costs_nothing_until_iterated() -> None:
    plant = SimulatedPlant(size="large")
    one_day = list(plant.production_entries(plant.start, plant.start + timedelta(hours=1)))
    assert 0 < len(one_day) < 1000
    job = plant.job(plant.unknown_part_job_ids()[0])
    assert job is not None
    assert plant.part(job["partId"]) is None


@pytest.mark.parametrize("stream", HISTORY)
def test_history_is_in_time_order_and_all_dates_are_plex_formatted(stream: str) -> None:
    rows = rows_of(CLEAN, stream)
    assert len(rows) == CLEAN.history_count(stream)
    times = [parse_plex_datetime(row[TIME_FIELD[stream]]) for row in rows]
    assert times == sorted(times)
    assert all(PLEX_DATE.match(row[TIME_FIELD[stream]]) for row in rows)
    assert CLEAN.start <= times[0]
    assert times[-1] < CLEAN.end
    widths = Counter(len(row[TIME_FIELD[stream]]) for row in rows)
    assert len(widths) >= 2  # seven-digit, three-digit and trimmed fractions all occur


@settings(max_examples=40, deadline=None)
@given(
    stream=st.sampled_from(HISTORY),
    begin_s=st.integers(min_value=-3600, max_value=8 * 86400),
    length_s=st.integers(min_value=0, max_value=3 * 86400),
    micros=st.integers(min_value=0, max_value=999_999),
)
def test_window_is_half_open_on_the_entry_time(stream: str, begin_s: int, length_s: int, micros: int) -> None:
    begin = CLEAN.start + timedelta(seconds=begin_s, microseconds=micros)
    end = begin + timedelta(seconds=length_s)
    expected = [row for moment, row in clean_rows(stream) if begin <= moment < end]
    assert rows_of(CLEAN, stream, begin, end) == expected


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=7 * 86400 * 1000), max_size=4))
def test_adjacent_windows_partition_the_history(cuts: list[int]) -> None:
    edges = [CLEAN.start, *sorted(CLEAN.start + timedelta(milliseconds=ms) for ms in cuts), CLEAN.end]
    pieces = [row for lo, hi in itertools.pairwise(edges) for row in rows_of(CLEAN, "production", lo, hi)]
    assert pieces == [row for _, row in clean_rows("production")]


def test_window_bounds_must_be_aware() -> None:
    with pytest.raises(ValueError, match="naive"):
        list(CLEAN.production_entries(datetime(2025, 1, 6), None))


@pytest.mark.parametrize("stream", ["production", "scrap"])
def test_twins_share_a_millisecond_on_one_workcenter(stream: str) -> None:
    twins = CLEAN.twin_rows(stream)  # type: ignore[arg-type]
    assert twins
    for first, second in twins:
        assert parse_plex_datetime(first["transactionDate"]) == parse_plex_datetime(second["transactionDate"])
        assert first["workcenterId"] == second["workcenterId"]
        assert first["serialNo"] != second["serialNo"]


def test_status_entries_are_unique_per_workcenter_and_log_date() -> None:
    rows = rows_of(CLEAN, "workcenter_status")
    keys = Counter((row["workcenterId"], parse_plex_datetime(row["logDate"])) for row in rows)
    assert max(keys.values()) == 1
    assert all(row["duration"] > 0 for row in rows)


def test_nulls_where_plex_sends_them() -> None:
    jobs = list(CLEAN.jobs())
    assert any(job["completedDate"] is None for job in jobs)
    assert any(job["completedDate"] is not None for job in jobs)
    assert any(job["buildingId"] is None for job in jobs)
    assert any(job["earliestStartDateTime"] is None for job in jobs)
    assert any(wc["buildingId"] is None for wc in CLEAN.workcenters())
    assert any(building["name"] is None for building in CLEAN.buildings())


def test_unknown_part_references_are_enumerated() -> None:
    part_ids = {part["id"] for part in CLEAN.parts()}
    unknown = set(CLEAN.unknown_part_job_ids())
    assert unknown
    for job in CLEAN.jobs():
        assert (job["partId"] not in part_ids) == (job["id"] in unknown)


def test_customer_defined_statuses_are_used_in_the_log() -> None:
    definitions = {status["description"] for status in CLEAN.workcenter_statuses()}
    used = {row["workcenterStatus"] for row in rows_of(CLEAN, "workcenter_status")}
    assert "Setup - Changeover" in used
    assert used <= definitions
    assert any(not status["active"] for status in CLEAN.workcenter_statuses())


@pytest.mark.parametrize("stream", ["jobs", *HISTORY])
def test_malformed_rows_are_exactly_the_enumerated_ones(stream: str) -> None:
    plant = SimulatedPlant(seed=3)
    malformed = {row.index: row.kind for row in plant.malformed_rows(stream)}
    rows = list(plant.jobs()) if stream == "jobs" else rows_of(plant, stream)
    found = {i: reason for i, row in enumerate(rows) if (reason := dead_letter_reason(stream, row)) is not None}
    assert found == malformed
    assert set(malformed.values()) == {"invalid_datetime", "missing_field", "invalid_number", "negative_number"} - (
        {"negative_number"} if stream == "jobs" else set()
    )


def test_no_malformed_rows_when_disabled() -> None:
    assert all(not CLEAN.malformed_rows(stream) for stream in ["jobs", *HISTORY])


def test_lookups_by_id() -> None:
    job = next(CLEAN.jobs())
    assert CLEAN.job(job["id"]) == job
    operations = CLEAN.job_operations(job["id"])
    assert operations
    assert all(op["jobId"] == job["id"] for op in operations)
    part = next(CLEAN.parts())
    assert CLEAN.part(part["id"]) == part
    assert CLEAN.part_by_number(part["number"]) == part
    workcenter = CLEAN.workcenters()[0]
    assert CLEAN.workcenter(workcenter["workcenterId"]) == workcenter
    other = SimulatedPlant(seed=4)
    assert other.job(job["id"]) is None
    assert other.job_operations(job["id"]) is None
    assert CLEAN.job("not-a-uuid") is None


def test_rows_are_fresh_copies() -> None:
    CLEAN.workcenters()[0]["name"] = "changed"
    assert CLEAN.workcenters()[0]["name"] != "changed"


def test_history_window_defaults() -> None:
    assert CLEAN.start == datetime(2025, 1, 6, tzinfo=UTC)
    assert CLEAN.end == CLEAN.start + timedelta(days=7)
