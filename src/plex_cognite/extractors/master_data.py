"""Master data: the plant root, buildings, workcenters, the parts catalog and parts, as one asset hierarchy.

Written in parent-first passes (roots, buildings, workcenters, parts) so every parent exists before its children;
each pass skips assets whose content hash is unchanged since the last acknowledged write. Streams that link to these
assets (jobs, status events, time series) run after this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import ClassVar, TypeVar

from plex_cognite.cdf.items import AssetItem
from plex_cognite.core.extractor import Extractor, ExtractorContext, StreamReport
from plex_cognite.core.state import StreamState
from plex_cognite.extractors._transforms import (
    MappingContext,
    building_asset,
    part_asset,
    parts_catalog_asset,
    plant_asset,
    workcenter_asset,
)
from plex_cognite.plex.client import AsyncPlexClient
from plex_cognite.plex.models import Building, Part, Workcenter
from plex_cognite.typing import Sink

__all__ = ["MasterDataExtractor"]

RecordT = TypeVar("RecordT")


class MasterDataExtractor(Extractor):
    """Plant, buildings, workcenters, parts catalog and parts as CDF assets (DESIGN section 5).

    Override a mapping by passing a function (`part_transform=my_part_asset`) or by subclassing and overriding
    `transform_part` (and friends).

    Args:
        context: The PCN's context.
        plex: An open `AsyncPlexClient`.
        sink: The asset sink (an `AssetSink`).
        building_transform: Building -> asset (default `building_asset`).
        workcenter_transform: Workcenter -> asset (default `workcenter_asset`).
        part_transform: Part -> asset (default `part_asset`).
    """

    stream: ClassVar[str] = "master_data"
    needs_assets: ClassVar[bool] = False

    def __init__(
        self,
        context: ExtractorContext,
        plex: AsyncPlexClient,
        sink: Sink[AssetItem],
        *,
        building_transform: Callable[[Building, MappingContext], AssetItem] = building_asset,
        workcenter_transform: Callable[[Workcenter, MappingContext], AssetItem] = workcenter_asset,
        part_transform: Callable[[Part, MappingContext], AssetItem] = part_asset,
    ) -> None:
        super().__init__(context)
        self.plex = plex
        self.sink = sink
        self.mapping = MappingContext(context.pcn, context.ids, context.data_set_id)
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

    async def extract(self, state: StreamState, report: StreamReport) -> None:
        """Write the hierarchy: plant, catalog, buildings and workcenters in order, then the parts concurrently."""

        async def upper_levels() -> AsyncIterator[Sequence[AssetItem]]:
            yield self.root_assets()
            async for items in self._mapped(self.plex.iter_buildings(self.pcn), self.transform_building, report):
                yield items
            async for items in self._mapped(self.plex.iter_workcenters(self.pcn), self.transform_workcenter, report):
                yield items

        # One writer, batches in order: every parent is written before (or in the same request as) its children,
        # and a small plant's upper levels cost a single request.
        await self.write_snapshot(upper_levels(), self.sink, state, report, concurrency=1)
        await self.write_snapshot(
            self._mapped(self.plex.iter_parts(self.pcn), self.transform_part, report), self.sink, state, report
        )

    async def _mapped(
        self,
        batches: AsyncIterator[list[RecordT]],
        transform: Callable[[RecordT], AssetItem],
        report: StreamReport,
    ) -> AsyncIterator[Sequence[AssetItem]]:
        async for records in batches:
            yield self.map_records(records, transform, report)
