"""Pure mappings for inventory and Plex Data Sources: locations, containers, on-hand quantities, moves, rows.

Every function here is pure (no I/O, no clock: the pass time is an argument), so content hashes are stable and an
unchanged re-run writes nothing. The rules (contract, also in `docs/inventory.md`):

- location: asset `PCN{pcn}_LOC_{locationId}`, name `locationCode`, description `locationType`, parent the building
  whose `buildingCode` equals the location's, else the plant.
- active container: RAW row `PCN{pcn}_{serialNo}` in table `inventory_containers`; columns the Plex fields (as the
  record serialises them, date-times in Plex's `...fffffffZ` form) plus `pcn`.
- on-hand quantity of a part: `math.fsum` of `quantity` over its active containers (null counts 0), a point at the
  pass time on `PCN{pcn}_PART_{partId}_ON_HAND_QTY` only when that sum differs from the last point written; a part
  whose containers are all gone gets a 0; parts unknown to CDF get no point (their containers are in RAW only).
- container move: event `PCN{pcn}_MOVE_{serialNo}_{adjustmentDate ms}`, type `container_move`, subtype
  `adjustmentCode`, start = end = `adjustmentDate`, linked to the part and, where known, the destination location.
- data-source row: RAW row `PCN{pcn}_{key column values joined by _}`; columns the row as returned plus `pcn`.
- deletes: only keys this PCN owns (prefix `PCN{pcn}_`), only after a complete, non-empty snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from plex_cognite.cdf.items import AssetItem, DatapointsItem, EventItem, RawRowItem, TimeSeriesItem
from plex_cognite.errors import ValidationError
from plex_cognite.extractors._transforms import MappingContext, _metadata, epoch_ms
from plex_cognite.plex.models import Container, ContainerLocationMove, Location
from plex_cognite.typing import JSONValue

__all__ = [
    "CONTAINERS_TABLE",
    "CONTAINER_MOVE_TYPE",
    "ContainerSnapshot",
    "OnHandUpdate",
    "container_move_event",
    "container_row",
    "datasource_row",
    "location_asset",
    "on_hand_points",
    "on_hand_series",
    "raw_keys_to_delete",
]

#: The RAW table of active containers (in `cdf.raw_database`).
CONTAINERS_TABLE = "inventory_containers"
#: The event type of container location moves.
CONTAINER_MOVE_TYPE = "container_move"


def location_asset(location: Location, building_ids: Mapping[str, str], ctx: MappingContext) -> AssetItem:
    """A location asset under the building with the same `buildingCode`, else under the plant.

    Args:
        location: The location.
        building_ids: `buildingCode -> building id` of the PCN's buildings (a code naming no building, or a location
            without one, puts the location under the plant).
        ctx: PCN, id scheme, data set.
    """
    building_id = building_ids.get(location.building_code) if location.building_code else None
    parent = ctx.ids.building(ctx.pcn, building_id) if building_id else ctx.ids.plant(ctx.pcn)
    return AssetItem(
        external_id=ctx.ids.location(ctx.pcn, location.location_id),
        name=location.location_code or location.location_id,
        parent_external_id=parent,
        description=location.location_type,
        metadata=_metadata(
            ctx,
            "plexLocationId",
            location.location_id,
            {
                "locationCode": location.location_code,
                "buildingCode": location.building_code,
                "buildingName": location.building_name,
                "locationType": location.location_type,
                "inventoryLocation": location.inventory_location,
                "supplyLocation": location.supply_location,
                "tankSilo": location.tank_silo,
            },
        ),
        data_set_id=ctx.data_set_id,
    )


def container_row(container: Container, ctx: MappingContext) -> RawRowItem:
    """The RAW row of an active container: its Plex fields (camelCase, as serialised) plus `pcn`."""
    columns: dict[str, JSONValue] = container.model_dump(mode="json", by_alias=True)
    columns["pcn"] = ctx.pcn
    return RawRowItem(key=ctx.ids.container_row(ctx.pcn, container.serial_no), columns=columns)


@dataclass(slots=True)
class ContainerSnapshot:
    """The active containers of one PCN as read in one pass, keyed by `serialNo`.

    A list endpoint read again after a broken body may deliver a container twice; keying by serial number makes
    that harmless (the last copy wins). Call `mark_complete` only after the client's iterator ended without an
    exception: deletes and zero points depend on it.

    Attributes:
        containers: By serial number.
        complete: True once the whole snapshot was read.
    """

    containers: dict[str, Container] = field(default_factory=dict)
    complete: bool = False

    def add(self, batch: Iterable[Container]) -> None:
        """Add one batch from `AsyncPlexClient.iter_containers`."""
        for container in batch:
            self.containers[container.serial_no] = container

    def mark_complete(self) -> None:
        """Record that the iterator ended normally (every container was read)."""
        self.complete = True

    def rows(self, ctx: MappingContext) -> list[RawRowItem]:
        """The RAW rows, in serial-number order."""
        return [container_row(self.containers[serial], ctx) for serial in sorted(self.containers)]

    def keys(self, ctx: MappingContext) -> set[str]:
        """The RAW row keys of this snapshot."""
        return {ctx.ids.container_row(ctx.pcn, serial) for serial in self.containers}

    def on_hand(self) -> dict[str, float]:
        """`partId -> sum of quantity` over the containers (a null quantity counts 0; no `partId`: skipped).

        Sums use `math.fsum`, so they do not depend on the order containers arrived in.
        """
        quantities: dict[str, list[float]] = {}
        for container in self.containers.values():
            if container.part_id:
                quantities.setdefault(container.part_id, []).append(container.quantity or 0.0)
        return {part_id: math.fsum(values) for part_id, values in quantities.items()}

    def units(self) -> dict[str, str]:
        """`partId -> quantityInventoryUnit` (of the part's first container by serial number that names one)."""
        units: dict[str, str] = {}
        for serial in sorted(self.containers):
            container = self.containers[serial]
            if container.part_id and container.quantity_inventory_unit and container.part_id not in units:
                units[container.part_id] = container.quantity_inventory_unit
        return units


def on_hand_series(
    part_id: str, ctx: MappingContext, *, unit: str | None = None, label: str | None = None
) -> TimeSeriesItem:
    """The on-hand quantity series of a part (a step series on the part asset).

    Args:
        part_id: The part's Plex id.
        ctx: PCN, id scheme, data set.
        unit: `quantityInventoryUnit` of its containers.
        label: A readable part name for the series name (default the part id).
    """
    name = label or part_id
    return TimeSeriesItem(
        external_id=ctx.ids.on_hand_series(ctx.pcn, part_id),
        name=f"{name} on-hand quantity",
        asset_external_id=ctx.ids.part(ctx.pcn, part_id),
        unit=unit,
        description=f"Quantity of part {name} in active containers, sampled each pass when it changes",
        metadata=_metadata(ctx, "plexPartId", part_id, {}),
        is_step=True,
        data_set_id=ctx.data_set_id,
    )


@dataclass(frozen=True, slots=True)
class OnHandUpdate:
    """What one pass writes for on-hand quantities, and the sums to remember once it is acknowledged.

    Attributes:
        points: One single-point `DatapointsItem` per part whose sum changed (or that is new, or emptied: 0).
        sums: `partId -> last sum written` to keep in state after the points were written (replaces the previous
            mapping; parts unknown to CDF are not in it).
    """

    points: list[DatapointsItem]
    sums: dict[str, float]


def on_hand_points(
    current: Mapping[str, float],
    previous: Mapping[str, float],
    at_ms: int,
    ctx: MappingContext,
    *,
    known_parts: Collection[str] | None = None,
) -> OnHandUpdate:
    """Points for the parts whose on-hand sum changed since the last point written.

    Args:
        current: `partId -> sum` of a **complete** snapshot (`ContainerSnapshot.on_hand`).
        previous: `partId -> sum` last written (from state; empty on the first pass).
        at_ms: The pass time, epoch ms (the timestamp of every point).
        ctx: PCN, id scheme.
        known_parts: Part ids that exist as assets in CDF (None: all). Containers of other parts count in RAW only:
            no point, and they are left out of the returned sums (so a point is written once the part appears).

    Returns:
        The points and the sums to keep. A part in `previous` with no active container left gets a 0.
    """
    known = (lambda part_id: True) if known_parts is None else known_parts.__contains__
    sums = {part_id: value for part_id, value in current.items() if known(part_id)}
    for part_id in previous:
        if part_id not in sums and known(part_id):
            sums[part_id] = 0.0
    points = [
        DatapointsItem(ctx.ids.on_hand_series(ctx.pcn, part_id), [(at_ms, value)])
        for part_id, value in sorted(sums.items())
        if previous.get(part_id) != value
    ]
    return OnHandUpdate(points=points, sums=sums)


def container_move_event(
    move: ContainerLocationMove, ctx: MappingContext, *, known_locations: Collection[str] | None = None
) -> EventItem:
    """A move event at `adjustmentDate`, linked to the part and (where known) the destination location.

    Args:
        move: The move.
        ctx: PCN, id scheme, data set.
        known_locations: Location ids that exist as assets (None: link any `locationId`). A destination outside it
            is left unlinked (its id stays in metadata); the part link follows `on_missing_asset` in the sink.

    Raises:
        ValidationError: The move has a blank `serialNo` (it would have no usable identity).
    """
    if not move.serial_no.strip():
        raise ValidationError("container move without a serialNo", payload=move.model_dump(mode="json", by_alias=True))
    moment = epoch_ms(move.adjustment_date)
    links: list[str] = []
    if move.part_id:
        links.append(ctx.ids.part(ctx.pcn, move.part_id))
    if move.location_id and (known_locations is None or move.location_id in known_locations):
        links.append(ctx.ids.location(ctx.pcn, move.location_id))
    source, destination = move.moved_from_location or move.moved_from_location_id, move.location or move.location_id
    return EventItem(
        external_id=ctx.ids.container_move(ctx.pcn, move.serial_no, moment),
        type=CONTAINER_MOVE_TYPE,
        subtype=move.adjustment_code,
        start_time=moment,
        end_time=moment,
        description=f"Container {move.serial_no} moved from {source or '?'} to {destination or '?'}",
        metadata=_metadata(
            ctx,
            "serialNo",
            move.serial_no,
            {
                "locationId": move.location_id,
                "location": move.location,
                "movedFromLocationId": move.moved_from_location_id,
                "movedFromLocation": move.moved_from_location,
                "partNumberRevision": move.part_number_revision,
                "quantity": move.quantity,
            },
        ),
        asset_external_ids=tuple(links),
        data_set_id=ctx.data_set_id,
    )


def datasource_row(row: Mapping[str, Any], key_columns: Sequence[str], ctx: MappingContext) -> RawRowItem:
    """The RAW row of one data-source row: key from the key columns, columns the row as returned plus `pcn`.

    Raises:
        ValidationError: A key column is absent from the row or null (the row would have no stable key).
    """
    missing = [name for name in key_columns if row.get(name) is None]
    if missing:
        raise ValidationError(f"data source row without key column(s) {', '.join(missing)}", payload=dict(row))
    columns: dict[str, JSONValue] = {str(name): value for name, value in row.items()}
    columns["pcn"] = ctx.pcn
    return RawRowItem(key=ctx.ids.raw_row(ctx.pcn, *(row[name] for name in key_columns)), columns=columns)


def raw_keys_to_delete(
    previous: Collection[str],
    current: Collection[str],
    *,
    complete: bool,
    owned_prefix: str,
    retained: Collection[str] = (),
) -> list[str]:
    """The RAW row keys to delete after a snapshot: rows written before that the snapshot no longer has.

    Safety rules: nothing when the snapshot is incomplete (a failed read) or empty (an empty answer is more likely
    a Plex fault than a plant with nothing in stock); only keys from `previous` (what this extractor wrote) that
    start with `owned_prefix` (this PCN's rows; never another writer's); never a key in `current` or `retained`.

    Args:
        previous: The keys of the previous complete snapshot (kept in state).
        current: The keys of this snapshot.
        complete: Whether this snapshot was read completely.
        owned_prefix: Prefix of the keys this extractor owns (`ExternalIdScheme.raw_row_prefix(pcn)`).
        retained: Keys to keep although missing from `current` (containers whose row was dead-lettered).

    Returns:
        The keys to delete, sorted.
    """
    if not complete or not current:
        return []
    keep = set(current) | set(retained)
    return sorted(key for key in set(previous) if key.startswith(owned_prefix) and key not in keep)
