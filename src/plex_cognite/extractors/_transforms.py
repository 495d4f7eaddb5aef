"""Pure mappings from typed Plex records to CDF items: the default mapping (`docs/mapping.md`).

Every function here is pure (no I/O, no clock): the same record and `MappingContext` always give the same item, so
content hashes are stable and re-runs over unchanged data write nothing. Override any of them by passing your own
function to the extractor (`JobsExtractor(..., transform=my_job_event)`) or by subclassing the extractor and
overriding its `transform` method.

Rules (contract):

- plant: asset `PCN{pcn}_PLANT`, name `PCN {pcn}`, no parent.
- building: asset `PCN{pcn}_BLDG_{id}`, name `buildingCode`, description `name`, parent the plant.
- workcenter: asset `PCN{pcn}_WC_{workcenterId}`, name `workcenterCode`, description `name`, parent its building
  when `buildingId` is set, else the plant.
- parts catalog: asset `PCN{pcn}_PARTS`, name `Parts`, parent the plant.
- part: asset `PCN{pcn}_PART_{id}`, name `{number}-{revision}` (`number` when the revision is empty), description
  `name`, parent the parts catalog.
- job: event `PCN{pcn}_JOB_{id}`, type `job`, subtype `jobStatus`, start `earliestStartDateTime` else
  `createdDate`, end `completedDate`, linked to the part and (when known) the building.
- status entry: event `PCN{pcn}_WCS_{workcenterId}_{logDate ms}`, type `workcenter_status`, subtype the status
  name, from `logDate` to `logDate + duration` seconds, linked to the workcenter and (when set) the part.
- production / scrap: datapoints on `PCN{pcn}_WC_{workcenterId}_PRODUCED_QTY` / `_SCRAP_QTY`, entries that share a
  millisecond summed; one time series per workcenter and stream, linked to the workcenter.

Every item carries `metadata.pcn`, `metadata.source = "plex"` and the Plex key in metadata.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from plex_cognite.cdf.ids import DEFAULT_ID_SCHEME, ExternalIdScheme
from plex_cognite.cdf.items import AssetItem, DatapointsItem, EventItem, PointArray, TimeSeriesItem
from plex_cognite.core._iso import format_utc
from plex_cognite.errors import RecordValidationError
from plex_cognite.plex.models import (
    Building,
    Job,
    Part,
    ProductionEntry,
    ScrapEntry,
    Workcenter,
    WorkcenterStatusEntry,
)
from plex_cognite.typing import Pcn

__all__ = [
    "MappingContext",
    "QuantitySums",
    "building_asset",
    "check_quantity",
    "epoch_ms",
    "job_event",
    "part_asset",
    "parts_catalog_asset",
    "plant_asset",
    "production_series",
    "quantity_datapoints",
    "scrap_series",
    "workcenter_asset",
    "workcenter_status_event",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class MappingContext:
    """What a mapping needs besides the record: the PCN, the external-id scheme and data set ids.

    Attributes:
        pcn: The PCN the records belong to.
        ids: The external-id scheme.
        data_set_id: Numeric data set id for every item (None: none).
    """

    pcn: Pcn
    ids: ExternalIdScheme = DEFAULT_ID_SCHEME
    data_set_id: int | None = None


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds (floored) of an aware datetime, computed exactly (no float rounding)."""
    return (moment - _EPOCH) // _MS


def _metadata(ctx: MappingContext, key_name: str, key: str, extra: Mapping[str, object | None]) -> dict[str, str]:
    meta = {"pcn": ctx.pcn, "source": "plex", key_name: key}
    for name, value in extra.items():
        if value is None or value == "":
            continue
        meta[name] = _text(value)
    return meta


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def plant_asset(ctx: MappingContext) -> AssetItem:
    """The plant's root asset."""
    return AssetItem(
        external_id=ctx.ids.plant(ctx.pcn),
        name=f"PCN {ctx.pcn}",
        metadata={"pcn": ctx.pcn, "source": "plex", "plexPcn": ctx.pcn},
        data_set_id=ctx.data_set_id,
    )


def parts_catalog_asset(ctx: MappingContext) -> AssetItem:
    """The parts catalog asset (parent of every part)."""
    return AssetItem(
        external_id=ctx.ids.parts_catalog(ctx.pcn),
        name="Parts",
        parent_external_id=ctx.ids.plant(ctx.pcn),
        metadata={"pcn": ctx.pcn, "source": "plex"},
        data_set_id=ctx.data_set_id,
    )


def building_asset(building: Building, ctx: MappingContext) -> AssetItem:
    """A building asset under the plant."""
    return AssetItem(
        external_id=ctx.ids.building(ctx.pcn, building.id),
        name=building.building_code or building.name or building.id,
        parent_external_id=ctx.ids.plant(ctx.pcn),
        description=building.name,
        metadata=_metadata(
            ctx, "plexBuildingId", building.id, {"buildingCode": building.building_code, "type": building.building_type}
        ),
        data_set_id=ctx.data_set_id,
    )


def workcenter_asset(workcenter: Workcenter, ctx: MappingContext) -> AssetItem:
    """A workcenter asset under its building, or under the plant when it has none."""
    wc_id = workcenter.workcenter_id
    parent = ctx.ids.building(ctx.pcn, workcenter.building_id) if workcenter.building_id else ctx.ids.plant(ctx.pcn)
    return AssetItem(
        external_id=ctx.ids.workcenter(ctx.pcn, wc_id),
        name=workcenter.workcenter_code or workcenter.name or wc_id,
        parent_external_id=parent,
        description=workcenter.name,
        metadata=_metadata(
            ctx,
            "plexWorkcenterId",
            wc_id,
            {
                "workcenterCode": workcenter.workcenter_code,
                "workcenterType": workcenter.workcenter_type,
                "workcenterGroup": workcenter.workcenter_group,
                "buildingCode": workcenter.building_code,
            },
        ),
        data_set_id=ctx.data_set_id,
    )


def part_asset(part: Part, ctx: MappingContext) -> AssetItem:
    """A part asset under the parts catalog."""
    number = part.number or part.id
    name = f"{number}-{part.revision}" if part.revision else number
    return AssetItem(
        external_id=ctx.ids.part(ctx.pcn, part.id),
        name=name,
        parent_external_id=ctx.ids.parts_catalog(ctx.pcn),
        description=part.name,
        metadata=_metadata(
            ctx,
            "plexPartId",
            part.id,
            {
                "partNumber": part.number,
                "revision": part.revision,
                "type": part.type,
                "group": part.group,
                "status": part.status,
                "modifiedDate": part.modified_date,
            },
        ),
        data_set_id=ctx.data_set_id,
    )


def job_event(job: Job, ctx: MappingContext) -> EventItem:
    """A job event linked to its part (and building, when known)."""
    links: list[str] = []
    if job.part_id:
        links.append(ctx.ids.part(ctx.pcn, job.part_id))
    if job.building_id:
        links.append(ctx.ids.building(ctx.pcn, job.building_id))
    started = job.earliest_start_date_time or job.created_date
    return EventItem(
        external_id=ctx.ids.job(ctx.pcn, job.id),
        type="job",
        subtype=job.job_status,
        start_time=None if started is None else epoch_ms(started),
        end_time=None if job.completed_date is None else epoch_ms(job.completed_date),
        description=f"Job {job.job_number}" if job.job_number else None,
        metadata=_metadata(
            ctx,
            "plexJobId",
            job.id,
            {
                "jobNumber": job.job_number,
                "partNumberRevision": job.part_number_revision,
                "quantity": job.quantity,
                "quantityCompleted": job.quantity_completed,
                "dueDate": job.due_date,
                "jobType": job.job_type,
                "priority": job.priority,
            },
        ),
        asset_external_ids=tuple(links),
        data_set_id=ctx.data_set_id,
    )


def workcenter_status_event(entry: WorkcenterStatusEntry, ctx: MappingContext) -> EventItem:
    """A status event spanning `logDate` .. `logDate + duration` seconds, linked to the workcenter (and part).

    Raises:
        RecordValidationError: When the duration is negative.
    """
    duration = entry.duration or 0
    if duration < 0:
        raise RecordValidationError(
            f"negative duration {duration} s", payload=entry.model_dump(mode="json", by_alias=True)
        )
    logged = epoch_ms(entry.log_date)
    links = [ctx.ids.workcenter(ctx.pcn, entry.workcenter_id)]
    if entry.part_id:
        links.append(ctx.ids.part(ctx.pcn, entry.part_id))
    return EventItem(
        external_id=ctx.ids.workcenter_status(ctx.pcn, entry.workcenter_id, logged),
        type="workcenter_status",
        subtype=entry.workcenter_status,
        start_time=logged,
        end_time=logged + int(duration) * 1000,
        metadata=_metadata(
            ctx,
            "plexWorkcenterId",
            entry.workcenter_id,
            {"workcenterCode": entry.workcenter_code, "jobCode": entry.job_code, "durationSeconds": duration},
        ),
        asset_external_ids=tuple(links),
        data_set_id=ctx.data_set_id,
    )


def production_series(workcenter: Workcenter, ctx: MappingContext) -> TimeSeriesItem:
    """The produced-quantity series of a workcenter, linked to it."""
    return _quantity_series(workcenter, ctx, ctx.ids.production_series(ctx.pcn, workcenter.workcenter_id), "produced")


def scrap_series(workcenter: Workcenter, ctx: MappingContext) -> TimeSeriesItem:
    """The scrap-quantity series of a workcenter, linked to it."""
    return _quantity_series(workcenter, ctx, ctx.ids.scrap_series(ctx.pcn, workcenter.workcenter_id), "scrap")


def _quantity_series(workcenter: Workcenter, ctx: MappingContext, external_id: str, what: str) -> TimeSeriesItem:
    code = workcenter.workcenter_code or workcenter.workcenter_id
    return TimeSeriesItem(
        external_id=external_id,
        name=f"{code} {what} quantity",
        asset_external_id=ctx.ids.workcenter(ctx.pcn, workcenter.workcenter_id),
        description=f"Quantity {what} on workcenter {code}, per Plex transaction",
        metadata=_metadata(ctx, "plexWorkcenterId", workcenter.workcenter_id, {"workcenterCode": code}),
        data_set_id=ctx.data_set_id,
    )


def check_quantity(entry: ProductionEntry | ScrapEntry) -> None:
    """Reject an entry whose quantity is negative or not finite.

    Raises:
        RecordValidationError: With the entry as payload.
    """
    if not math.isfinite(entry.quantity) or entry.quantity < 0:
        raise RecordValidationError(
            f"quantity {entry.quantity} is negative or not finite",
            payload=entry.model_dump(mode="json", by_alias=True),
        )


class QuantitySums:
    """Sums of entry quantities per (series, millisecond), built up entry by entry over one window.

    Keeps only the sums (not the entries), so memory is the number of distinct points in the window.

    Args:
        series_of: Workcenter id -> series external id.
    """

    def __init__(self, series_of: Mapping[str, str]) -> None:
        self.series_of = series_of
        self._sums: dict[str, dict[int, float]] = defaultdict(dict)
        self.orphans: list[ProductionEntry | ScrapEntry] = []

    def add(self, entry: ProductionEntry | ScrapEntry) -> None:
        """Add one valid entry (see `check_quantity`); an entry whose workcenter has no series is kept aside."""
        if not self.add_quantity(entry.workcenter_id, entry.transaction_date, entry.quantity):
            self.orphans.append(entry)

    def add_quantity(self, workcenter_id: str, moment: datetime, quantity: float) -> bool:
        """Add one valid quantity at `moment`; False (nothing added) when the workcenter has no series."""
        series = self.series_of.get(workcenter_id)
        if series is None:
            return False
        points = self._sums[series]
        ms = epoch_ms(moment)
        points[ms] = points.get(ms, 0.0) + float(quantity)
        return True

    def items(self) -> list[DatapointsItem]:
        """One `DatapointsItem` per series, points in time order."""
        return [DatapointsItem(xid, PointArray(sorted(points.items()))) for xid, points in self._sums.items()]


def quantity_datapoints(
    entries: Iterable[ProductionEntry | ScrapEntry], series_of: Mapping[str, str]
) -> tuple[list[DatapointsItem], list[ProductionEntry | ScrapEntry]]:
    """Sum entry quantities per (series, millisecond); CDF keeps one value per timestamp.

    Args:
        entries: Valid entries (see `check_quantity`) of one complete window, so that every entry sharing a
            millisecond is present.
        series_of: Workcenter id -> series external id.

    Returns:
        One `DatapointsItem` per series (points in time order), and the entries whose workcenter has no series.
    """
    sums = QuantitySums(series_of)
    for entry in entries:
        sums.add(entry)
    return sums.items(), sums.orphans
