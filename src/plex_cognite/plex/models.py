"""Typed Plex Connect records (pydantic v2), one model per resource the extractors read.

Field names are snake_case in Python and Plex's camelCase on the wire (`workcenter_id` <-> `workcenterId`); both
are accepted on input. Unknown fields are kept (`model.model_extra`), never fatal, so a Plex release that adds a
field does not break a run. Dates are parsed tolerantly into aware UTC datetimes and written back in the Plex
format by `model_dump(mode="json", by_alias=True)`.

Only the fields a record cannot be used without are required (its key, and for history entries the time, the
workcenter and, for quantities, the quantity); everything else is optional because Plex sends `null` freely.
A row that fails validation becomes a dead letter, it does not stop the stream.
"""

from __future__ import annotations

import operator
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    Strict,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from plex_cognite.plex._dates import format_plex_datetime
from plex_cognite.plex._sharing import SharedExtra, SharedFieldsSet, share_record_parts

__all__ = [
    "Building",
    "Container",
    "ContainerLocationMove",
    "Job",
    "JobOperation",
    "Location",
    "OptionalPlexDateTime",
    "Part",
    "PlexDateTime",
    "PlexFloat",
    "PlexInt",
    "PlexRecord",
    "ProductionEntry",
    "ScrapEntry",
    "Workcenter",
    "WorkcenterStatus",
    "WorkcenterStatusEntry",
]


_FORMAT_HINT = "expected YYYY-MM-DDThh:mm:ss.fffffffZ"
#: Error type of every rejected Plex date-time (the dead-letter reason kind `invalid_datetime`).
INVALID_DATETIME = "invalid_datetime"


def _blank_to_none(value: object) -> None:
    # Only reached when no date-time branch matched: an empty or blank string means "no date", anything else is bad.
    if not isinstance(value, str) or value.strip():
        raise ValueError("not a Plex date-time")


def _plex_datetime_schema(*, optional: bool) -> core_schema.CoreSchema:
    # Built from pydantic-core's own (Rust) validators, so a date costs no Python call on the way in: Plex's 7
    # fractional digits (truncated to microseconds, like `parse_plex_datetime`), `Z` or an offset. Only strings (or
    # aware datetimes) are accepted: numbers (epoch seconds to lax pydantic) and times without a zone are refused.
    # `astimezone(UTC)` (a C callable, no Python frame) normalises every value to `datetime.UTC`.
    aware = core_schema.no_info_after_validator_function(
        operator.methodcaller("astimezone", UTC),
        core_schema.union_schema(
            [
                core_schema.datetime_schema(strict=True, tz_constraint="aware"),
                core_schema.chain_schema(
                    [core_schema.str_schema(), core_schema.datetime_schema(tz_constraint="aware")]
                ),
            ],
            mode="left_to_right",
        ),
    )
    schema: core_schema.CoreSchema = aware
    if optional:
        blank = core_schema.no_info_plain_validator_function(_blank_to_none)
        schema = core_schema.union_schema([core_schema.none_schema(), aware, blank], mode="left_to_right")
    return core_schema.custom_error_schema(
        schema,
        custom_error_type=INVALID_DATETIME,
        custom_error_message=f"not a Plex date-time with a zone ({_FORMAT_HINT})",
    )


class _PlexDateTimeSchema:
    """`Annotated` marker that validates a Plex date-time natively (see `_plex_datetime_schema`)."""

    def __init__(self, *, optional: bool) -> None:
        self._schema = _plex_datetime_schema(optional=optional)
        self.optional = optional  # whether null (or a blank) is None

    def __get_pydantic_core_schema__(self, source: object, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return self._schema

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        text: JsonSchemaValue = {"type": "string", "format": "date-time"}
        return {"anyOf": [text, {"type": "null"}]} if self.optional else text


def _no_text(value: object) -> object:
    # Plex sends numbers as JSON numbers; "12,5" or "n/a" (or a bool) in a number field is a bad row, not a value.
    if isinstance(value, str | bool):
        raise PydanticCustomError(
            "invalid_number",
            "expected a JSON number, got {kind} {value}",
            {"kind": type(value).__name__, "value": repr(value)},
        )
    return value


#: An aware UTC datetime read from a Plex date string, written back as `YYYY-MM-DDThh:mm:ss.fffffffZ`.
PlexDateTime = Annotated[
    datetime, _PlexDateTimeSchema(optional=False), PlainSerializer(format_plex_datetime, when_used="json")
]
#: Like `PlexDateTime`, but `null` (or an empty string) is None.
OptionalPlexDateTime = Annotated[
    datetime | None,
    _PlexDateTimeSchema(optional=True),
    PlainSerializer(format_plex_datetime, when_used="json-unless-none"),
]


#: A float that must arrive as a JSON number (ints accepted), never as text or a bool.
PlexFloat = Annotated[float, Strict()]
#: An int that must arrive as a JSON number (an integral float such as `3600.0` is accepted), never as text.
PlexInt = Annotated[int, BeforeValidator(_no_text)]


class PlexRecord(BaseModel):
    """Base of every Plex record: camelCase aliases (snake_case names accepted too), unknown fields kept."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        alias_generator=to_camel,
    )

    def model_post_init(self, context: Any, /) -> None:
        """Share the field set and extras of the record before this one where equal (a subclass calls `super()`)."""
        share_record_parts(self)

    def __setattr__(self, name: str, value: Any) -> None:
        self._own_shared_parts()
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        self._own_shared_parts()
        super().__delattr__(name)

    @property
    def model_extra(self) -> dict[str, Any] | None:
        """The unknown fields kept from the row (this record's own dict: changing it changes only this record)."""
        self._own_shared_parts()
        return self.__pydantic_extra__

    def _own_shared_parts(self) -> None:
        # Records read together share one `model_fields_set` and, where equal, one extras dict (together most of a
        # record's memory); pydantic changes them in place, so take copies of one's own first (copy on write).
        if type(getattr(self, "__pydantic_fields_set__", None)) is SharedFieldsSet:
            object.__setattr__(self, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        extra = getattr(self, "__pydantic_extra__", None)
        if type(extra) is SharedExtra:
            object.__setattr__(self, "__pydantic_extra__", dict(extra))


class Building(PlexRecord):
    """A building (`GET /mdm/v1/buildings`); key `id`."""

    id: str
    building_code: str | None = None
    name: str | None = None
    building_type: str | None = None
    active: bool | None = None
    old_building_code: str | None = None
    address: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zip_code: str | None = None


class Workcenter(PlexRecord):
    """A workcenter (`GET /production/v1/production-definitions/workcenters`); key `workcenterId`, not `id`."""

    workcenter_id: str
    workcenter_code: str | None = None
    name: str | None = None
    workcenter_type: str | None = None
    workcenter_group: str | None = None
    building_id: str | None = None
    building_code: str | None = None
    tank_silo: bool | None = None
    production_line_id: str | None = None
    ip_address: str | None = None
    plc_name: str | None = None


class Part(PlexRecord):
    """A part (`GET /mdm/v1/parts`); key `id`."""

    id: str
    number: str | None = None
    name: str | None = None
    revision: str | None = None
    description: str | None = None
    type: str | None = None
    group: str | None = None
    source: str | None = None
    product_type: str | None = None
    status: str | None = None
    note: str | None = None
    lead_time_days: PlexFloat | None = None
    building_code: str | None = None
    created_by_id: str | None = None
    created_date: OptionalPlexDateTime = None
    modified_by_id: str | None = None
    modified_date: OptionalPlexDateTime = None


class Job(PlexRecord):
    """A production job (`GET /scheduling/v1/jobs`); key `id`. Open jobs have no `completed_date`."""

    id: str
    job_number: str | None = None
    external_job_code: str | None = None
    created_date: OptionalPlexDateTime = None
    part_id: str | None = None
    part_number: str | None = None
    part_revision: str | None = None
    part_number_revision: str | None = None
    due_date: OptionalPlexDateTime = None
    completed_date: OptionalPlexDateTime = None
    quantity: PlexFloat | None = None
    quantity_completed: PlexFloat | None = None
    job_status: str | None = None
    building_id: str | None = None
    building_code: str | None = None
    job_type: str | None = None
    earliest_start_date_time: OptionalPlexDateTime = None
    priority: str | None = None


class JobOperation(PlexRecord):
    """One operation of a job (`GET /scheduling/v1/jobs/{id}/operations`); key `jobOperationId`."""

    job_operation_id: str
    job_id: str | None = None
    job_number: str | None = None
    part_id: str | None = None
    part_number: str | None = None
    part_revision: str | None = None
    part_number_revision: str | None = None
    job_operation_number: PlexInt | None = None
    operation_code: str | None = None
    workcenter_id: str | None = None
    workcenter_code: str | None = None
    quantity: PlexFloat | None = None
    quantity_completed: PlexFloat | None = None
    due_date: OptionalPlexDateTime = None
    scheduled_start_date: OptionalPlexDateTime = None
    completed_date: OptionalPlexDateTime = None
    job_operation_status: str | None = None
    setup_time: PlexFloat | None = None
    rate: PlexFloat | None = None
    unit_of_measure: str | None = None
    run_time: PlexFloat | None = None
    batch_criteria: str | None = None
    part_operation_type: str | None = None
    batch_operation: bool | None = None
    pre_process_operation: bool | None = None


class _HistoryEntry(PlexRecord):
    """Fields the production-history entries share."""

    workcenter_id: str
    workcenter_code: str | None = None
    job_id: str | None = None
    part_id: str | None = None
    part_number: str | None = None
    revision: str | None = None
    part_number_revision: str | None = None
    part_operation_id: str | None = None
    operation_number: PlexInt | None = None
    operation_code: str | None = None


class ProductionEntry(_HistoryEntry):
    """A production transaction (`GET /production/v1/production-history/production-entries`).

    Plex gives it no row id; `transaction_date` is its time (the windowing field).
    """

    transaction_date: PlexDateTime
    quantity: Annotated[PlexFloat, Field(ge=0)]
    serial_no: str | None = None
    lot_no: str | None = None
    employee_id: str | None = None
    employee_name: str | None = None
    job_code: str | None = None
    job_no: str | None = None
    unit: str | None = None
    tracking_no: str | None = None


class ScrapEntry(_HistoryEntry):
    """A scrap transaction (`GET /production/v1/production-history/scrap-entries`); time `transaction_date`."""

    transaction_date: PlexDateTime
    quantity: Annotated[PlexFloat, Field(ge=0)]
    scrap_reason: str | None = None
    transaction_type: str | None = None
    job_code: str | None = None
    serial_no: str | None = None


class WorkcenterStatusEntry(_HistoryEntry):
    """A workcenter status log entry (`.../production-history/workcenter-status-entries`).

    It spans `log_date` .. `log_date + duration` seconds; `workcenter_status` is a customer-defined name (classify
    it with `WorkcenterStatus` flags).
    """

    log_date: PlexDateTime
    workcenter_status: str | None = None
    duration: Annotated[PlexInt, Field(ge=0)] | None = None
    job_code: str | None = None


class WorkcenterStatus(PlexRecord):
    """A workcenter status definition (`.../production-definitions/workcenter-statuses`) with its flags."""

    id: str
    description: str | None = None
    active: bool | None = None
    can_run_production: bool | None = None
    off_status: bool | None = None
    idle_status: bool | None = None
    production_status: bool | None = None
    setup_status: bool | None = None
    downtime_status: bool | None = None
    maintenance_status: bool | None = None
    excess_setup: bool | None = None
    no_operator_required: bool | None = None
    clockout_operators: bool | None = None
    default_after_job_change: bool | None = None
    labor_cost_sub_type_id: str | None = None


class Container(PlexRecord):
    """An active container (`GET /inventory/v1/inventory-tracking/containers`); key `serialNo`.

    Containers spell the part fields `partNo`/`operationNo` (history entries say `partNumber`/`operationNumber`).
    `quantity` is what the container holds now, in `quantityInventoryUnit`; a `null` quantity counts as 0 on hand.
    """

    serial_no: str
    part_id: str | None = None
    part_no: str | None = None
    revision: str | None = None
    part_no_revision: str | None = None
    part_name: str | None = None
    part_operation_id: str | None = None
    operation_no: PlexInt | None = None
    operation_code: str | None = None
    container_status: str | None = None
    location_id: str | None = None
    location: str | None = None
    quantity: PlexFloat | None = None
    quantity_inventory_unit: str | None = None
    gross_weight: PlexFloat | None = None
    net_weight: PlexFloat | None = None
    tare_weight: PlexFloat | None = None
    container_type: str | None = None
    tracking_no: str | None = None
    add_date_time: OptionalPlexDateTime = None
    update_date_time: OptionalPlexDateTime = None
    container_shelf_date_time: OptionalPlexDateTime = None
    master_unit_id: str | None = None
    master_unit_no: str | None = None
    lot_id: str | None = None
    lot_no: str | None = None
    heat_id: str | None = None
    heat_code: str | None = None
    heat_no: str | None = None
    eun: str | None = None
    inventory_type: str | None = None


class Location(PlexRecord):
    """An inventory location (`GET /inventory/v1/inventory-definitions/locations`); key `locationId`.

    A location names its building by `buildingCode` (not by id); it may have none, or name a building that the
    buildings endpoint does not list.
    """

    location_id: str
    location_code: str | None = None
    building_name: str | None = None
    building_code: str | None = None
    location_type: str | None = None
    inventory_location: bool | None = None
    supply_location: bool | None = None
    tank_silo: bool | None = None


class ContainerLocationMove(PlexRecord):
    """A container moved between locations (`GET /inventory/v1/inventory-history/container-location-moves`).

    Plex gives it no row id: `(serialNo, adjustmentDate)` identifies it, and `adjustment_date` is its time (the
    windowing field). `quantity` and `net_weight` are deltas and may be negative.
    """

    adjustment_date: PlexDateTime
    serial_no: str
    quantity: PlexFloat | None = None
    net_weight: PlexFloat | None = None
    adjustment_code: str | None = None
    part_id: str | None = None
    part_number: str | None = None
    revision: str | None = None
    part_number_revision: str | None = None
    part_operation_id: str | None = None
    operation_code: str | None = None
    # Plex's field notes for this endpoint are inconsistent (an int32 "30 characters max", while operationCode says
    # "10 characters max"): take the declared integer type, and keep a text value Plex may send instead as text.
    operation_number: PlexInt | str | None = None
    location: str | None = None
    location_id: str | None = None
    moved_from_location: str | None = None
    moved_from_location_id: str | None = None
