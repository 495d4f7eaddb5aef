"""Inventory: locations as assets, active containers as RAW rows, on-hand quantity per part as a time series.

One pass per run, a snapshot:

1. Locations are written as assets under the building whose `buildingCode` they name, else under the plant (changed
   ones only).
2. The active containers are read **completely** (`iter_containers` ends normally only after the whole list was
   read; any failure raises, and then nothing below happens: no write, no delete, no point).
3. Container rows go to RAW table `inventory_containers` in `cdf.raw_database`; an unchanged container is not
   rewritten (content hash per row key in state).
4. Rows of containers that left the snapshot (consumed, shipped) are deleted, safely: only keys this stream wrote
   for this PCN (remembered in state), only after a complete and non-empty snapshot, and not at all in a pass where
   Plex sent containers that failed validation (they would look consumed).
5. The on-hand quantity of each part (sum of `quantity` over its containers) becomes a point at the pass time on
   `PCN{pcn}_PART_{partId}_ON_HAND_QTY` only when it changed since the last point written (0 when its containers
   are all gone). Parts that are not assets in CDF get no series and no point (their containers are in RAW only).
   The sums are remembered only once CDF acknowledged the points.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

from plex_cognite.cdf.items import AssetItem, DatapointsItem, RawRowItem
from plex_cognite.cdf.sinks import RawSink
from plex_cognite.core._together import collect
from plex_cognite.core.bound_sink import BoundSink
from plex_cognite.core.context import ExtractorContext
from plex_cognite.extractors._inventory import (
    CONTAINERS_TABLE,
    ContainerSnapshot,
    location_asset,
    on_hand_points,
    on_hand_series,
    raw_keys_to_delete,
)
from plex_cognite.extractors._transforms import MappingContext, epoch_ms
from plex_cognite.extractors.base import AsyncBaseExtractor
from plex_cognite.extractors.resources import ExtractorResources
from plex_cognite.plex.models import Location
from plex_cognite.plex.pcn_client import PcnPlexClient
from plex_cognite.typing import JSONValue

__all__ = ["InventoryExtractor", "read_locations"]

#: Prefix of the container rows' content hashes in state (keeps them apart from the location assets' hashes).
CONTAINER_HASH_PREFIX = "row:"
#: Prefix of the on-hand points' content hashes in state (the series' hashes have the same keys).
POINTS_HASH_PREFIX = "points:"
#: `state.extra` key: `partId -> last on-hand sum written`.
ON_HAND_STATE = "on_hand"
#: `state.extra` key: container row keys written but not acknowledged yet (they may exist in CDF: delete candidates).
UNCONFIRMED_STATE = "unconfirmed_rows"

LocationTransform = Callable[[Location, dict[str, str], MappingContext], AssetItem]


class InventoryExtractor(AsyncBaseExtractor):
    """Locations, active containers and on-hand quantities of one PCN (module docstring; `docs/inventory.md`).

    Args:
        context: The PCN's context.
        resources: The run's shared clients and sinks.
        location_transform: Location, `buildingCode -> building id`, mapping context -> asset (default
            `location_asset`).
    """

    stream: ClassVar[str] = "inventory"

    def __init__(
        self,
        context: ExtractorContext,
        resources: ExtractorResources,
        *,
        location_transform: LocationTransform = location_asset,
    ) -> None:
        super().__init__(context, resources)
        self._location = location_transform
        database = resources.settings.cdf.raw_database
        self.container_sink = RawSink(
            resources.cdf, database, CONTAINERS_TABLE, concurrency=resources.settings.cdf.write_concurrency
        )
        self.containers: BoundSink[RawRowItem] = self.bind(
            f"raw:{database}/{CONTAINERS_TABLE}", self.container_sink, hash_prefix=CONTAINER_HASH_PREFIX
        )
        # The points are keyed by series external id like the series themselves: their hashes need a prefix.
        self.on_hand_points: BoundSink[DatapointsItem] = self.bind(
            "on_hand_points", resources.datapoints, hash_prefix=POINTS_HASH_PREFIX
        )

    def dead_letter_streams(self) -> tuple[str, ...]:
        """Rejected locations and containers (the client's lists), plus mapping rejects."""
        return ("inventory", "locations", "containers")

    def pass_time_ms(self) -> int:
        """The timestamp of this pass's on-hand points (now; override for a fixed clock)."""
        return epoch_ms(datetime.now(UTC))

    async def extract(self) -> None:
        """Locations, then the container snapshot: rows, deletes, on-hand points."""
        at_ms = self.pass_time_ms()
        await self.write_locations()
        snapshot, rejected = await self.read_snapshot()
        await self.write_rows(snapshot)
        if not snapshot.containers:
            self.log.warning("the container snapshot is empty; no rows deleted and no on-hand points written")
            return
        await self.delete_departed(snapshot, rejected=rejected)
        await self.write_on_hand(snapshot, at_ms)

    # -- locations -------------------------------------------------------------------------------------------------

    async def write_locations(self) -> None:
        """Write the locations that changed, each under its building (by `buildingCode`), else the plant."""
        building_ids, locations = await read_locations(self.plex)
        await self.sinks.assets.write(
            self.map_records(locations, lambda location: self._location(location, building_ids, self.mapping))
        )

    # -- containers ------------------------------------------------------------------------------------------------

    async def read_snapshot(self) -> tuple[ContainerSnapshot, int]:
        """Read every active container; return the snapshot and how many containers Plex sent that failed validation.

        Raises:
            Exception: Whatever stopped the read (the snapshot is then unusable: nothing is written or deleted).
        """
        letters = self.context.dead_letters
        rejected_before = letters.count_new(self.pcn, "containers")
        snapshot = ContainerSnapshot()
        async for batch in self.plex.iter_containers():
            snapshot.add(batch)
        snapshot.mark_complete()
        self.report.read += len(snapshot.containers)
        return snapshot, letters.count_new(self.pcn, "containers") - rejected_before

    def _written_keys(self) -> set[str]:
        """Container row keys this stream wrote and has not deleted: acknowledged ones and unconfirmed ones."""
        state = self.state
        keys = {
            xid.removeprefix(CONTAINER_HASH_PREFIX)
            for xid, _ in state.hashes()
            if xid.startswith(CONTAINER_HASH_PREFIX)
        }
        return keys | set(_strings(state.extra.get(UNCONFIRMED_STATE)))

    def _set_unconfirmed(self, keys: set[str]) -> None:
        if keys:
            self.state.extra[UNCONFIRMED_STATE] = list[JSONValue](sorted(keys))
        else:
            self.state.extra.pop(UNCONFIRMED_STATE, None)

    def _acknowledged(self, key: str) -> bool:
        return self.state.hash_of(CONTAINER_HASH_PREFIX + key) is not None

    async def write_rows(self, snapshot: ContainerSnapshot) -> None:
        """Write the rows of changed containers (unchanged ones are skipped by their content hash)."""
        rows = snapshot.rows(self.mapping)
        unconfirmed = set(_strings(self.state.extra.get(UNCONFIRMED_STATE)))
        # A row sent but not acknowledged may exist in CDF all the same: remember it until it is, so it can be deleted.
        self._set_unconfirmed(unconfirmed | {row.key for row in rows if not self._acknowledged(row.key)})
        await self.containers.write(rows)
        self._set_unconfirmed({key for key in self._written_keys() if not self._acknowledged(key)})

    async def delete_departed(self, snapshot: ContainerSnapshot, *, rejected: int = 0) -> None:
        """Delete the rows of containers this stream wrote that the (complete, non-empty) snapshot no longer has.

        Args:
            snapshot: This pass's snapshot.
            rejected: Containers Plex sent that failed validation in this pass: when any, nothing is deleted (a
                rejected container is missing from the snapshot without having left the plant).
        """
        previous = self._written_keys()
        retained = previous if rejected else set()
        if rejected:
            self.log.warning("containers failed validation; no rows deleted in this pass", rejected=rejected)
        doomed = raw_keys_to_delete(
            previous,
            snapshot.keys(self.mapping),
            complete=snapshot.complete,
            owned_prefix=self.mapping.ids.raw_row_prefix(self.pcn),
            retained=retained,
        )
        if not doomed:
            return
        result = await self.container_sink.delete(doomed)
        self.report.requests += result.requests
        self.report.deleted += len(result.deleted)
        for key in result.deleted:
            self.state.forget_hash(CONTAINER_HASH_PREFIX + key)
        self._set_unconfirmed(set(_strings(self.state.extra.get(UNCONFIRMED_STATE))) - set(result.deleted))
        if result.failed:
            # Their keys stay in state: the next complete pass deletes them.
            self.report.failed += len(result.failed)
            self.report.last_failure = f"delete {result.failed[-1].key}: {result.failed[-1].reason}"
        self.log.info("deleted the rows of containers that left the snapshot", deleted=len(result.deleted))

    # -- on hand ---------------------------------------------------------------------------------------------------

    async def write_on_hand(self, snapshot: ContainerSnapshot, at_ms: int) -> None:
        """Upsert the on-hand series of known parts, write a point for every changed sum, remember what landed."""
        ids, pcn = self.mapping.ids, self.pcn
        previous = _sums(self.state.extra.get(ON_HAND_STATE))
        current = snapshot.on_hand()
        part_xids = {part_id: ids.part(pcn, part_id) for part_id in current.keys() | previous.keys()}
        existing = await self.resolver.resolve_async(part_xids.values())
        known = {part_id for part_id, xid in part_xids.items() if xid in existing}
        units, labels = snapshot.units(), _labels(snapshot)
        series = [
            on_hand_series(part_id, self.mapping, unit=units.get(part_id), label=labels.get(part_id))
            for part_id in sorted(known & current.keys())
        ]
        await self.sinks.timeseries.write(series)
        update = on_hand_points(current, previous, at_ms, self.mapping, known_parts=known)
        result = await self.on_hand_points.write(update.points)
        not_landed = {failure.key for failure in result.failed}
        sums: dict[str, JSONValue] = {}
        for part_id, value in update.sums.items():
            if ids.on_hand_series(pcn, part_id) not in not_landed:
                sums[part_id] = value
            elif part_id in previous:
                sums[part_id] = previous[part_id]  # not written: the next pass compares with what CDF has
        self.state.extra[ON_HAND_STATE] = sums


async def read_locations(plex: PcnPlexClient) -> tuple[dict[str, str], list[Location]]:
    """`buildingCode -> building id` of the PCN's buildings, and its locations."""
    building_ids: dict[str, str] = {}
    async for buildings in plex.iter_buildings():
        building_ids.update((b.building_code, b.id) for b in buildings if b.building_code)
    return building_ids, await collect(plex.iter_locations())


def _strings(value: JSONValue | None) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _sums(value: JSONValue | None) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {
        str(key): float(number)
        for key, number in value.items()
        if isinstance(number, int | float) and not isinstance(number, bool)
    }


def _labels(snapshot: ContainerSnapshot) -> dict[str, str]:
    """`partId -> part number-revision` as the containers name it (for readable series names)."""
    labels: dict[str, str] = {}
    for serial in sorted(snapshot.containers):
        container = snapshot.containers[serial]
        label = container.part_no_revision or container.part_no
        if container.part_id and label and container.part_id not in labels:
            labels[container.part_id] = label
    return labels
