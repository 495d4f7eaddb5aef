"""Master data: the plant root, buildings, workcenters, the parts catalog and parts, as one asset hierarchy.

Written parents first (roots, buildings and workcenters in one write, then parts) so every parent exists before
its children; each write skips assets whose content hash is unchanged since the last acknowledged write. Streams
that link to these assets (jobs, status events, time series) run after this one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from plex_cognite.cdf.items import AssetItem
from plex_cognite.core.bound_sink import BoundSink
from plex_cognite.core.context import ExtractorContext
from plex_cognite.core.extractor import ReplayUnsupportedError
from plex_cognite.extractors._replay import record_from_letter
from plex_cognite.extractors._transforms import (
    MappingContext,
    building_asset,
    part_asset,
    parts_catalog_asset,
    plant_asset,
    workcenter_asset,
)
from plex_cognite.extractors.base import AsyncBaseExtractor
from plex_cognite.extractors.resources import ExtractorResources
from plex_cognite.plex.models import Building, Part, Workcenter
from plex_cognite.typing import DeadLetter, KeyedItem

__all__ = ["MasterDataExtractor"]


class MasterDataExtractor(AsyncBaseExtractor):
    """Plant, buildings, workcenters, parts catalog and parts as CDF assets (see `docs/mapping.md`).

    Override a mapping by passing a function (`part_transform=my_part_asset`) or by subclassing and overriding
    `transform_part` (and friends).

    Args:
        context: The PCN's context.
        resources: The run's shared clients and sinks.
        building_transform: Building -> asset (default `building_asset`).
        workcenter_transform: Workcenter -> asset (default `workcenter_asset`).
        part_transform: Part -> asset (default `part_asset`).
    """

    stream: ClassVar[str] = "master_data"
    needs_assets: ClassVar[bool] = False

    def __init__(
        self,
        context: ExtractorContext,
        resources: ExtractorResources,
        *,
        building_transform: Callable[[Building, MappingContext], AssetItem] = building_asset,
        workcenter_transform: Callable[[Workcenter, MappingContext], AssetItem] = workcenter_asset,
        part_transform: Callable[[Part, MappingContext], AssetItem] = part_asset,
    ) -> None:
        super().__init__(context, resources)
        self._building = building_transform
        self._workcenter = workcenter_transform
        self._part = part_transform

    def dead_letter_streams(self) -> tuple[str, ...]:
        """Dead letters of the three lists the client reads, plus mapping rejects."""
        return ("master_data", "buildings", "workcenters", "parts")

    def root_assets(self) -> list[AssetItem]:
        """The plant root and the parts catalog."""
        return [plant_asset(self.mapping), parts_catalog_asset(self.mapping)]

    def transform_building(self, building: Building) -> AssetItem:
        """Map one building."""
        return self._building(building, self.mapping)

    def transform_workcenter(self, workcenter: Workcenter) -> AssetItem:
        """Map one workcenter."""
        return self._workcenter(workcenter, self.mapping)

    def transform_part(self, part: Part) -> AssetItem:
        """Map one part."""
        return self._part(part, self.mapping)

    async def extract(self) -> None:
        """Write the upper levels (plant, catalog, buildings, workcenters) in one write, then the parts."""
        upper = self.root_assets()
        async for buildings in self.plex.iter_buildings():
            upper += self.map_records(buildings, self.transform_building, stream="buildings")
        async for workcenters in self.plex.iter_workcenters():
            upper += self.map_records(workcenters, self.transform_workcenter, stream="workcenters")
        # One write orders the hierarchy parents first (a small plant's upper levels cost a single request), and
        # it is acknowledged before any part is queued, so every part's parent exists.
        await self.sinks.assets.write(upper)
        async for parts in self.plex.iter_parts():
            await self.sinks.assets.put(self.map_records(parts, self.transform_part, stream="parts"))

    def replay_writes(self, letter: DeadLetter) -> Sequence[tuple[BoundSink[Any], Sequence[KeyedItem]]]:
        """Rebuild a building, workcenter or part from the letter's payload (by its stream) and write its asset."""
        match letter.stream:
            case "buildings":
                item = self.transform_building(record_from_letter(Building, letter))
            case "workcenters":
                item = self.transform_workcenter(record_from_letter(Workcenter, letter))
            case "parts":
                item = self.transform_part(record_from_letter(Part, letter))
            case _:
                raise ReplayUnsupportedError(f"no record type for master-data letters of stream {letter.stream!r}")
        return [(self.sinks.assets, [item])]
