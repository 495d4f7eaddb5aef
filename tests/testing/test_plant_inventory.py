"""SimulatedPlant inventory: locations, containers, moves, checksheets, mutations, and what CDF must hold for them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plex_cognite.testing._plex_datasource import CHECKSHEET_ROW_LIMIT
from plex_cognite.testing.plant import (
    INVENTORY_STREAMS,
    SimulatedPlant,
    dead_letter_reason,
    expected_on_hand,
    on_hand_changes,
)

PLANT = SimulatedPlant(seed=3, pcn="340884")
STREAMS = ("master_data", *INVENTORY_STREAMS)


def test_inventory_rows_are_deterministic() -> None:
    again = SimulatedPlant(seed=3, pcn="340884")
    assert again.locations() == PLANT.locations()
    assert list(again.containers()) == list(PLANT.containers())
    assert list(again.container_moves()) == list(PLANT.container_moves())
    assert again.checksheets(PLANT.start, PLANT.end) == PLANT.checksheets(PLANT.start, PLANT.end)


def test_the_awkward_inventory_cases_are_all_there() -> None:
    part_ids = {part["id"] for part in PLANT.parts()}
    containers = list(PLANT.containers())
    assert any(row["buildingCode"] is None for row in PLANT.locations())
    assert any(row["buildingCode"] == "B99" for row in PLANT.locations())
    assert any(row["partId"] not in part_ids for row in containers)
    assert any(row["quantity"] == 0.0 for row in containers)
    kinds = {dead_letter_reason("container_moves", row) for row in PLANT.container_moves()}
    assert {"missing_field", "invalid_datetime", "invalid_number"} < kinds
    busy = PLANT.start + timedelta(days=2)
    assert len(PLANT.checksheets(busy, busy + timedelta(days=1))) > CHECKSHEET_ROW_LIMIT


def test_moves_are_in_time_order_and_windows_partition_them() -> None:
    middle = PLANT.start + timedelta(days=3, hours=5)
    everything = list(PLANT.container_moves())
    assert list(PLANT.container_moves(None, middle)) + list(PLANT.container_moves(middle, None)) == everything


def test_the_expectation_covers_every_inventory_case() -> None:
    expected = PLANT.expected_cdf(streams=STREAMS)
    prefix = "PCN340884"
    locations = {row["locationCode"]: expected.assets[f"{prefix}_LOC_{row['locationId']}"] for row in PLANT.locations()}
    assert locations["WIP-03"].parent_external_id == f"{prefix}_PLANT"  # no building
    assert locations["WIP-07"].parent_external_id == f"{prefix}_PLANT"  # unknown building
    assert locations["WIP-01"].parent_external_id.startswith(f"{prefix}_BLDG_")
    containers = list(PLANT.containers())
    rows = expected.raw["inventory_containers"]
    assert set(rows) == {f"{prefix}_{row['serialNo']}" for row in containers}
    assert all(columns["pcn"] == "340884" for columns in rows.values())
    unknown = next(row for row in containers if row["partId"] not in {p["id"] for p in PLANT.parts()})
    assert f"{prefix}_PART_{unknown['partId']}_ON_HAND_QTY" not in expected.timeseries  # RAW only
    assert expected.on_hand == expected_on_hand(PLANT)
    assert {series.asset_external_id for xid, series in expected.timeseries.items()} <= set(expected.assets)
    moves = [event for event in expected.events.values() if event.type == "container_move"]
    assert moves
    assert all(event.start_time == event.end_time for event in moves)
    assert any(len(event.asset_external_ids) == 1 for event in moves)  # destination not listed: part only
    assert any(xid.startswith(f"{prefix}_MOVE_") for xid in expected.deferred)  # a container of an unknown part
    assert sum(count for (stream, _), count in expected.dead_letter_counts().items() if stream == "container_moves")
    assert len(expected.raw["checksheets"]) == len(PLANT.checksheets(PLANT.start, PLANT.end))


def test_mismatches_compare_raw_rows_and_latest_on_hand_values() -> None:
    expected = PLANT.expected_cdf(streams=STREAMS)
    raw = {table: {key: dict(columns) for key, columns in rows.items()} for table, rows in expected.raw.items()}
    matching = expected.mismatches([], raw=raw, on_hand=dict(expected.on_hand))
    assert [line for line in matching if "RAW" in line or "on-hand" in line] == []
    gone = next(iter(raw["inventory_containers"]))
    del raw["inventory_containers"][gone]
    raw["inventory_containers"]["PCN340884_stray"] = {}
    raw["inventory_containers"]["PCN999_theirs"] = {}  # another PCN's row is not ours to judge
    wrong = {xid: value + 1 for xid, value in expected.on_hand.items()}
    problems = expected.mismatches([], raw=raw, on_hand=wrong)
    assert f"missing RAW row of inventory_containers {gone}" in problems
    assert "unexpected RAW row of inventory_containers PCN340884_stray" in problems
    assert not any("PCN999" in line for line in problems)
    assert any(line.startswith("latest on-hand value of") for line in problems)


def test_mutate_inventory_consumes_containers_and_changes_quantities() -> None:
    containers = list(PLANT.containers())
    consumed, changed = containers[0]["serialNo"], containers[1]["serialNo"]
    after = PLANT.mutate_inventory(consume=[consumed], quantities={changed: 1234.0})
    served = {row["serialNo"]: row for row in after.containers()}
    assert consumed not in served
    assert served[changed]["quantity"] == 1234.0
    assert len(served) == len(containers) - 1
    assert list(PLANT.containers()) == containers  # the original plant is unchanged
    assert after.revision == PLANT.revision + 1
    assert after.locations() == PLANT.locations()
    changes = on_hand_changes(PLANT, after)
    touched = {f"PCN340884_PART_{row['partId']}_ON_HAND_QTY" for row in containers[:2]}
    assert set(changes) <= touched
    assert changes  # at least one of the two parts' sums moved
    with pytest.raises(ValueError, match="not active containers"):
        after.mutate_inventory(consume=[consumed])


def test_a_part_whose_containers_are_all_consumed_drops_to_zero() -> None:
    part_ids = {part["id"] for part in PLANT.parts()}
    by_part: dict[str, list[str]] = {}
    for row in PLANT.containers():
        if row["partId"] in part_ids:
            by_part.setdefault(row["partId"], []).append(row["serialNo"])
    part, serials = next(
        (p, s) for p, s in by_part.items() if expected_on_hand(PLANT)[f"PCN340884_PART_{p}_ON_HAND_QTY"]
    )
    after = PLANT.mutate_inventory(consume=serials)
    assert on_hand_changes(PLANT, after) == {f"PCN340884_PART_{part}_ON_HAND_QTY": 0.0}


def test_a_fraction_of_containers_can_be_consumed_deterministically() -> None:
    first = PLANT.mutate_inventory(fraction=0.3)
    second = PLANT.mutate_inventory(fraction=0.3)
    assert list(first.containers()) == list(second.containers())
    assert 0 < len(list(first.containers())) < len(list(PLANT.containers()))
