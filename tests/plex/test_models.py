from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.errors import SourceError
from plex_cognite.plex import (
    Building,
    Container,
    ContainerLocationMove,
    Job,
    JobOperation,
    Location,
    Part,
    PlexRecord,
    ProductionEntry,
    ScrapEntry,
    Workcenter,
    WorkcenterStatus,
    WorkcenterStatusEntry,
    parse_plex_datetime,
)
from plex_cognite.plex._stream import RowValidator
from plex_cognite.testing.plant import SimulatedPlant, dead_letter_reason
from tests._openapi import declared_fields

PLANT = SimulatedPlant(seed=7, size="small")


def test_workcenter_key_is_workcenter_id_by_alias_and_by_name() -> None:
    by_alias = Workcenter.model_validate({"workcenterId": "wc-1", "workcenterCode": "879", "tankSilo": False})
    by_name = Workcenter(workcenter_id="wc-1", workcenter_code="879", tank_silo=False)
    assert by_alias == by_name
    assert by_alias.model_dump(by_alias=True, exclude_none=True) == {
        "workcenterId": "wc-1",
        "workcenterCode": "879",
        "tankSilo": False,
    }


def test_unknown_fields_are_kept_and_dumped_back() -> None:
    job = Job.model_validate({"id": "j1", "jobNumber": "J-1", "brandNewField": {"x": 1}})
    assert job.model_extra == {"brandNewField": {"x": 1}}
    assert job.model_dump(by_alias=True)["brandNewField"] == {"x": 1}


def test_dates_become_aware_utc_and_dump_in_plex_format() -> None:
    job = Job.model_validate(
        {
            "id": "j1",
            "createdDate": "2025-10-01T12:00:00Z",
            "dueDate": "2025-10-15T06:00:00.1234567+02:00",
            "completedDate": None,
            "earliestStartDateTime": "",
        }
    )
    assert job.created_date == datetime(2025, 10, 1, 12, tzinfo=UTC)
    assert job.due_date == datetime(2025, 10, 15, 4, 0, 0, 123456, tzinfo=UTC)
    assert job.completed_date is None
    assert job.earliest_start_date_time is None
    dumped = job.model_dump(mode="json", by_alias=True)
    assert dumped["createdDate"] == "2025-10-01T12:00:00.0000000Z"
    assert dumped["dueDate"] == "2025-10-15T04:00:00.1234560Z"
    assert dumped["completedDate"] is None
    assert Job.model_validate(dumped) == job


@pytest.mark.parametrize(
    ("row", "kind"),
    [
        ({"transactionDate": "2025-01-01T00:00:00Z", "quantity": 1.0}, "missing_field"),
        ({"workcenterId": "w", "transactionDate": None, "quantity": 1.0}, "missing_field"),
        ({"workcenterId": "w", "transactionDate": "2025-10-03 14:05:12", "quantity": 1.0}, "invalid_datetime"),
        ({"workcenterId": "w", "transactionDate": 1735689600, "quantity": 1.0}, "invalid_datetime"),
        ({"workcenterId": "w", "transactionDate": "2025-01-01T00:00:00Z", "quantity": "12,5"}, "invalid_number"),
        ({"workcenterId": "w", "transactionDate": "2025-01-01T00:00:00Z", "quantity": True}, "invalid_number"),
        ({"workcenterId": "w", "transactionDate": "2025-01-01T00:00:00Z", "quantity": -1}, "negative_number"),
    ],
)
def test_bad_rows_are_dead_lettered_with_a_reason_kind(row: dict[str, Any], kind: str) -> None:
    letters: list[Any] = []
    validator = RowValidator("production", "340884", on_dead_letter=letters.append)
    assert validator.validate(ProductionEntry, [row]) == []
    assert len(letters) == 1
    assert letters[0].reason.startswith(f"{kind}: ProductionEntry: ")
    assert letters[0].payload is row
    assert (letters[0].stream, letters[0].pcn) == ("production", "340884")


@pytest.mark.parametrize(
    ("stream", "model", "rows"),
    [
        ("jobs", Job, list(PLANT.jobs())),
        ("production", ProductionEntry, list(PLANT.production_entries())),
        ("scrap", ScrapEntry, list(PLANT.scrap_entries())),
        ("workcenter_status", WorkcenterStatusEntry, list(PLANT.workcenter_status_entries())),
        ("container_moves", ContainerLocationMove, list(PLANT.container_moves())),
    ],
)
def test_simulated_plant_rows_are_rejected_exactly_when_the_plant_says_so(
    stream: str, model: type[PlexRecord], rows: list[dict[str, Any]]
) -> None:
    letters: list[Any] = []
    records = RowValidator(stream, PLANT.pcn, on_dead_letter=letters.append).validate(model, rows)
    expected = [(row, dead_letter_reason(stream, row)) for row in rows if dead_letter_reason(stream, row)]
    assert len(expected) > 0
    assert [(letter.payload, letter.reason.split(":")[0]) for letter in letters] == expected
    assert len(records) + len(letters) == len(rows)


@pytest.mark.parametrize(
    ("model", "rows"),
    [
        (Building, PLANT.buildings()),
        (Workcenter, PLANT.workcenters()),
        (Part, list(PLANT.parts())),
        (WorkcenterStatus, PLANT.workcenter_statuses()),
        (Container, list(PLANT.containers())),
        (Location, PLANT.locations()),
        (JobOperation, PLANT.job_operations(next(iter(PLANT.jobs()))["id"]) or []),
    ],
)
def test_master_data_rows_all_validate_and_keep_every_field(
    model: type[PlexRecord], rows: list[dict[str, Any]]
) -> None:
    assert rows
    for row in rows:
        record = model.model_validate(row)
        assert set(record.model_dump(by_alias=True)) >= set(row)


@settings(max_examples=150, deadline=None)
@given(
    st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=7),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_models_parse_dates_exactly_like_parse_plex_datetime(moment: datetime, digits: int, offset_min: int) -> None:
    zone = timezone(timedelta(minutes=offset_min))
    local = moment.astimezone(zone)
    text = f"{local:%Y-%m-%dT%H:%M:%S}"
    if digits:
        text += "." + (f"{local.microsecond:06d}9")[:digits]
    text += "Z" if offset_min == 0 else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    entry = ProductionEntry.model_validate({"workcenterId": "w", "transactionDate": text, "quantity": 1})
    assert entry.transaction_date == parse_plex_datetime(text)
    assert entry.transaction_date.tzinfo is UTC
    assert ProductionEntry.model_validate(entry.model_dump(mode="json", by_alias=True)) == entry


def test_model_fields_are_the_openapi_fields_of_their_endpoint() -> None:
    for model, template in (
        (Container, "/inventory/v1/inventory-tracking/containers"),
        (Location, "/inventory/v1/inventory-definitions/locations"),
        (ContainerLocationMove, "/inventory/v1/inventory-history/container-location-moves"),
    ):
        aliases = {field.alias or name for name, field in model.model_fields.items()}
        assert aliases == set(declared_fields(template)), model.__name__


def test_a_move_keeps_negative_deltas_and_a_text_operation_number() -> None:
    move = ContainerLocationMove.model_validate(
        {"adjustmentDate": "2025-01-06T10:00:00Z", "serialNo": "S1", "quantity": -4.5, "operationNumber": "0010A"}
    )
    assert (move.quantity, move.operation_number) == (-4.5, "0010A")
    assert (
        ContainerLocationMove.model_validate(
            {"adjustmentDate": "2025-01-06T10:00:00Z", "serialNo": "S1", "operationNumber": 10}
        ).operation_number
        == 10
    )


@pytest.mark.parametrize(
    ("stream", "model", "rows"),
    [
        ("jobs", Job, list(PLANT.jobs())),
        ("production", ProductionEntry, list(PLANT.production_entries())),
        ("workcenter_status", WorkcenterStatusEntry, list(PLANT.workcenter_status_entries())),
    ],
)
def test_a_whole_body_validates_to_the_same_records_and_dead_letters_as_its_rows(
    stream: str, model: type[PlexRecord], rows: list[dict[str, Any]]
) -> None:
    by_rows: list[Any] = []
    by_body: list[Any] = []
    expected = RowValidator(stream, PLANT.pcn, on_dead_letter=by_rows.append).validate(model, rows)
    body = json.dumps([*rows, 7, "text"]).encode()
    records = RowValidator(stream, PLANT.pcn, on_dead_letter=by_body.append).validate_json(model, body)
    assert records == expected
    assert [(letter.payload, letter.reason) for letter in by_body[:-2]] == [
        (letter.payload, letter.reason) for letter in by_rows
    ]
    assert [letter.reason.split(":")[0] for letter in by_body[-2:]] == ["not_an_object", "not_an_object"]


def test_a_body_with_a_byte_order_mark_or_not_an_array_goes_through_the_decoder() -> None:
    row = {"workcenterId": "w", "transactionDate": "2025-01-01T00:00:00Z", "quantity": 1}
    validator = RowValidator("production", "340884")
    body = json.dumps([row]).encode()
    assert len(validator.validate_json(ProductionEntry, b"\xef\xbb\xbf" + body)) == 1
    with pytest.raises(SourceError, match="malformed or truncated JSON array"):
        validator.validate_json(ProductionEntry, body[:-1])
    with pytest.raises(SourceError, match="expected a JSON array"):
        validator.validate_json(ProductionEntry, b'{"error": "no"}')


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "missing_field"),
        ("", "invalid_datetime"),
        (1735689600.5, "invalid_datetime"),
        (True, "invalid_datetime"),
        ("2025-01-01T00:00:00", "invalid_datetime"),
        ("2025-13-01T00:00:00Z", "invalid_datetime"),
    ],
)
def test_required_dates_refuse_what_plex_never_sends(value: object, kind: str) -> None:
    letters: list[Any] = []
    row = {"workcenterId": "w", "transactionDate": value, "quantity": 1}
    validator = RowValidator("production", "340884", on_dead_letter=letters.append)
    assert validator.validate_json(ProductionEntry, json.dumps([row]).encode()) == []
    assert letters[0].reason.startswith(f"{kind}: ProductionEntry: transactionDate: ")
    if value is not None:
        assert repr(value) in letters[0].reason


@pytest.mark.parametrize("value", [None, "", "   "])
def test_optional_dates_read_null_and_blank_as_none(value: object) -> None:
    assert Job.model_validate({"id": "j", "completedDate": value}).completed_date is None
    assert Job.model_validate_json(json.dumps({"id": "j", "completedDate": value})).completed_date is None


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1901, 1, 1),
        max_value=datetime(9998, 1, 1),
        timezones=st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
    )
)
def test_aware_datetimes_and_their_text_validate_to_the_same_utc_instant(moment: datetime) -> None:
    from_object = Job.model_validate({"id": "j", "dueDate": moment}).due_date
    from_text = Job.model_validate_json(json.dumps({"id": "j", "dueDate": moment.isoformat()})).due_date
    assert from_object == from_text == moment
    assert from_object is not None
    assert from_object.tzinfo is UTC
