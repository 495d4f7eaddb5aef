"""The pure inventory and data-source mappings: locations, container rows, on-hand points, moves, deletes."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plex_cognite.errors import ValidationError
from plex_cognite.extractors._inventory import (
    CONTAINERS_TABLE,
    ContainerSnapshot,
    container_move_event,
    container_row,
    datasource_row,
    location_asset,
    on_hand_points,
    on_hand_series,
    raw_keys_to_delete,
)
from plex_cognite.extractors._transforms import MappingContext
from plex_cognite.plex.models import Container, ContainerLocationMove, Location

CTX = MappingContext(pcn="340884")
BUILDINGS = {"B1": "b-1", "B2": "b-2"}


def _location(**fields: object) -> Location:
    return Location.model_validate({"locationId": "loc-1", "locationCode": "WIP-01", **fields})


def _container(serial: str, part: str | None, quantity: float | None, unit: str | None = "Ea") -> Container:
    return Container.model_validate(
        {"serialNo": serial, "partId": part, "quantity": quantity, "quantityInventoryUnit": unit}
    )


def test_a_location_hangs_under_the_building_with_its_code_else_under_the_plant() -> None:
    under_building = location_asset(_location(buildingCode="B2", locationType="WIP"), BUILDINGS, CTX)
    assert under_building.external_id == "PCN340884_LOC_loc-1"
    assert under_building.name == "WIP-01"
    assert under_building.parent_external_id == "PCN340884_BLDG_b-2"
    assert under_building.description == "WIP"
    assert under_building.metadata["plexLocationId"] == "loc-1"
    assert under_building.metadata["pcn"] == "340884"
    no_building = location_asset(_location(buildingCode=None), BUILDINGS, CTX)
    unknown_building = location_asset(_location(buildingCode="B99"), BUILDINGS, CTX)
    assert no_building.parent_external_id == unknown_building.parent_external_id == "PCN340884_PLANT"
    assert location_asset(_location(locationCode=None), {}, CTX).name == "loc-1"


def test_a_container_row_is_keyed_by_serial_and_holds_the_plex_fields_plus_pcn() -> None:
    row = container_row(_container("C1", "p-1", 5.0), CTX)
    assert row.key == "PCN340884_C1"
    assert row.columns["serialNo"] == "C1"
    assert row.columns["partId"] == "p-1"
    assert row.columns["quantity"] == 5.0
    assert row.columns["quantityInventoryUnit"] == "Ea"
    assert row.columns["pcn"] == "340884"
    assert CONTAINERS_TABLE == "inventory_containers"
    assert row.content_hash() == container_row(_container("C1", "p-1", 5.0), CTX).content_hash()
    assert row.content_hash() != container_row(_container("C1", "p-1", 6.0), CTX).content_hash()


def test_the_snapshot_keys_by_serial_so_a_container_read_twice_counts_once() -> None:
    snapshot = ContainerSnapshot()
    first = [_container("C1", "p-1", 2.0), _container("C2", "p-1", 3.0), _container("C3", None, 9.0)]
    snapshot.add(first)
    snapshot.add(first[:1])  # a broken body read again from the start
    assert snapshot.on_hand() == {"p-1": 5.0}
    assert snapshot.keys(CTX) == {"PCN340884_C1", "PCN340884_C2", "PCN340884_C3"}
    assert [row.key for row in snapshot.rows(CTX)] == ["PCN340884_C1", "PCN340884_C2", "PCN340884_C3"]
    assert not snapshot.complete
    snapshot.mark_complete()
    assert snapshot.complete


@given(quantities=st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=30))
def test_on_hand_sums_do_not_depend_on_arrival_order(quantities: list[float]) -> None:
    containers = [_container(f"C{i}", f"p-{i % 3}", q) for i, q in enumerate(quantities)]
    shuffled = containers[:]
    random.Random(len(quantities)).shuffle(shuffled)
    ordered, mixed = ContainerSnapshot(), ContainerSnapshot()
    ordered.add(containers)
    mixed.add(shuffled)
    assert ordered.on_hand() == mixed.on_hand()


def test_zero_and_null_quantities_count_as_zero_on_hand_and_units_come_from_the_containers() -> None:
    snapshot = ContainerSnapshot()
    snapshot.add([_container("C1", "p-1", 0.0), _container("C2", "p-1", None, unit=None), _container("C3", "p-2", 4)])
    assert snapshot.on_hand() == {"p-1": 0.0, "p-2": 4.0}
    assert snapshot.units() == {"p-1": "Ea", "p-2": "Ea"}
    series = on_hand_series("p-1", CTX, unit="Ea", label="100001-A")
    assert series.external_id == "PCN340884_PART_p-1_ON_HAND_QTY"
    assert series.asset_external_id == "PCN340884_PART_p-1"
    assert (series.unit, series.is_step) == ("Ea", True)


sums = st.dictionaries(
    st.sampled_from([f"p-{i}" for i in range(8)]), st.sampled_from([0.0, 1.0, 2.5, 10.0]), max_size=8
)


@given(current=sums, previous=sums, known=st.none() | st.frozensets(st.sampled_from([f"p-{i}" for i in range(8)])))
def test_on_hand_points_are_written_only_where_the_sum_changed(
    current: dict[str, float], previous: dict[str, float], known: frozenset[str] | None
) -> None:
    update = on_hand_points(current, previous, 1_000, CTX, known_parts=known)
    points = {item.external_id: item.datapoints for item in update.points}
    is_known = (lambda part: True) if known is None else known.__contains__
    for part in set(current) | set(previous):
        xid = f"PCN340884_PART_{part}_ON_HAND_QTY"
        if not is_known(part):
            assert xid not in points  # unknown to CDF: RAW only
            assert part not in update.sums
            continue
        value = current.get(part, 0.0)  # a part whose containers all vanished reads 0
        assert update.sums[part] == value
        if previous.get(part) == value:
            assert xid not in points
        else:
            assert points[xid] == [(1_000, value)]
    # Writing the same snapshot again writes nothing.
    assert on_hand_points(current, update.sums, 2_000, CTX, known_parts=known).points == []


def test_a_part_whose_containers_were_all_consumed_gets_a_zero_once() -> None:
    first = on_hand_points({"p-1": 5.0, "p-2": 1.0}, {}, 1, CTX)
    assert len(first.points) == 2
    second = on_hand_points({"p-2": 1.0}, first.sums, 2, CTX)
    assert [(p.external_id, list(p.datapoints)) for p in second.points] == [
        ("PCN340884_PART_p-1_ON_HAND_QTY", [(2, 0.0)])
    ]
    assert on_hand_points({"p-2": 1.0}, second.sums, 3, CTX).points == []


def _move(**fields: object) -> ContainerLocationMove:
    row = {
        "adjustmentDate": "2025-01-06T10:00:00.1234567Z",
        "serialNo": "C1",
        "adjustmentCode": "Relocate",
        "partId": "p-1",
        "locationId": "loc-2",
        "location": "WIP-02",
        "movedFromLocationId": "loc-1",
        "movedFromLocation": "WIP-01",
        "quantity": 0.0,
    }
    return ContainerLocationMove.model_validate({**row, **fields})


def test_a_move_is_an_instant_event_linked_to_its_part_and_destination() -> None:
    event = container_move_event(_move(), CTX)
    moment = int(datetime(2025, 1, 6, 10, 0, 0, 123000, tzinfo=UTC).timestamp() * 1000)
    assert event.external_id == f"PCN340884_MOVE_C1_{moment}"
    assert (event.type, event.subtype) == ("container_move", "Relocate")
    assert event.start_time == event.end_time == moment
    assert list(event.asset_external_ids) == ["PCN340884_PART_p-1", "PCN340884_LOC_loc-2"]
    assert event.metadata["serialNo"] == "C1"
    assert event.metadata["locationId"] == "loc-2"
    assert event.metadata["movedFromLocationId"] == "loc-1"


def test_a_move_to_an_unknown_location_links_only_the_part() -> None:
    event = container_move_event(_move(), CTX, known_locations={"loc-1"})
    assert list(event.asset_external_ids) == ["PCN340884_PART_p-1"]
    assert event.metadata["locationId"] == "loc-2"


def test_a_move_without_adjustment_date_or_serial_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError):
        ContainerLocationMove.model_validate({"serialNo": "C1"})  # dead-lettered by the client
    with pytest.raises(ValidationError, match="serialNo"):
        container_move_event(_move(serialNo="  "), CTX)


def test_a_data_source_row_is_keyed_by_its_key_columns_and_keeps_every_column() -> None:
    row = {"Checksheet_Key": 700001, "Line": 2, "Status": "Pass", "Result": None}
    item = datasource_row(row, ["Checksheet_Key", "Line"], CTX)
    assert item.key == "PCN340884_700001_2"
    assert item.columns == {**row, "pcn": "340884"}
    with pytest.raises(ValidationError, match="Checksheet_Key"):
        datasource_row({"Status": "Pass"}, ["Checksheet_Key"], CTX)
    with pytest.raises(ValidationError, match="Line"):
        datasource_row({"Checksheet_Key": 1, "Line": None}, ["Checksheet_Key", "Line"], CTX)


keys = st.frozensets(st.sampled_from([f"PCN1_C{i}" for i in range(10)] + ["PCN2_C1", "other_C1"]))


@given(previous=keys, current=keys, complete=st.booleans(), retained=keys)
def test_only_owned_rows_missing_from_a_complete_snapshot_are_deleted(
    previous: frozenset[str], current: frozenset[str], complete: bool, retained: frozenset[str]
) -> None:
    doomed = raw_keys_to_delete(previous, current, complete=complete, owned_prefix="PCN1_", retained=retained)
    assert doomed == sorted(doomed)
    assert set(doomed) <= previous
    assert not set(doomed) & (current | retained)
    assert all(key.startswith("PCN1_") for key in doomed)
    if not complete or not current:
        assert doomed == []
    else:
        assert set(doomed) == {k for k in previous if k.startswith("PCN1_")} - current - retained


def test_an_empty_snapshot_deletes_nothing() -> None:
    previous = {"PCN1_C1", "PCN1_C2"}
    assert raw_keys_to_delete(previous, set(), complete=True, owned_prefix="PCN1_") == []


def test_a_failed_snapshot_deletes_nothing() -> None:
    previous = {"PCN1_C1", "PCN1_C2"}
    assert raw_keys_to_delete(previous, {"PCN1_C1"}, complete=False, owned_prefix="PCN1_") == []
    assert raw_keys_to_delete(previous, {"PCN1_C1"}, complete=True, owned_prefix="PCN1_") == ["PCN1_C2"]
