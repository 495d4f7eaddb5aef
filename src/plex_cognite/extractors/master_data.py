"""Master data: the plant root, buildings, workcenters, the parts catalog and parts, as one asset hierarchy.

Written parents first (roots, buildings and workcenters in one write, then parts) so every parent exists before
its children; each write skips assets whose content hash is unchanged since the last acknowledged write. Streams
that link to these assets (jobs, status events, time series) run after this one.

Per `cdf.sink`, the hierarchy is written as classic assets, as `CogniteAsset` nodes (with the Plex
`CogniteSourceSystem` node they all name as their source), or both. Each node describes its classic asset item, so a
replaced mapping shows in both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from plex_cognite.cdf.datamodeling import AssetNode, NodeItem
from plex_cognite.cdf.items import AssetItem
from plex_cognite.core._together import collect, in_order
from plex_cognite.core.bound_sink import BoundSink
from plex_cognite.core.context import ExtractorContext
from plex_cognite.core.extractor import ReplayUnsupportedError
from plex_cognite.extractors._paired import PairedItems, SinkPair
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
from plex_cognite.extractors.node_mapping import asset_node, plex_source_system
from plex_cognite.extractors.resources import ExtractorResources
from plex_cognite.plex.models import Building, Part, Workcenter
from plex_cognite.typing import DeadLetter, KeyedItem

__all__ = ["MasterDataExtractor"]


class MasterDataExtractor(AsyncBaseExtractor):
    """Plant, buildings, workcenters, parts catalog and parts as CDF assets and/or nodes (see `docs/mapping.md`).

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

    def root_items(self) -> PairedItems[AssetItem, NodeItem]:
        """The root assets, and (when nodes are written) their nodes with the Plex source system node."""
        roots = self.root_assets()
        nodes: list[NodeItem] = []
        if self.settings.cdf.writes_nodes:
            nodes.append(plex_source_system(self.node_mapping))
            plant, catalog = roots
            nodes += [asset_node(plant, self.node_mapping, self.pcn), asset_node(catalog, self.node_mapping, None)]
        return PairedItems(roots, nodes)

    async def extract(self) -> None:
        """Write the upper levels (plant, catalog, buildings, workcenters) in one write, then the parts.

        Buildings and workcenters are read at once, and the parts list is read meanwhile; parts are queued only once
        the upper levels were acknowledged, so every part's parent exists. An error is the first one in that order
        (a rejected key reports the buildings read, whichever answer came first).
        """
        sinks = self.sinks.paired(self.sinks.assets, self.sinks.nodes)
        upper = asyncio.ensure_future(self._write_upper_levels(sinks))
        await in_order(upper, self._put_parts(sinks, upper))

    async def _write_upper_levels(self, sinks: SinkPair[AssetItem, NodeItem]) -> None:
        buildings, workcenters = await in_order(
            collect(self.plex.iter_buildings()), collect(self.plex.iter_workcenters())
        )
        upper = self.root_items()
        upper += self.map_pair(buildings, self.transform_building, self.building_node, stream="buildings")
        upper += self.map_pair(workcenters, self.transform_workcenter, self.workcenter_node, stream="workcenters")
        # One write orders the hierarchy parents first (a small plant's upper levels cost a single request).
        await sinks.write(upper)
        self.upper_assets_written()  # production and scrap link to these only: they start now

    async def _put_parts(self, sinks: SinkPair[AssetItem, NodeItem], upper_written: Awaitable[None]) -> None:
        async for parts in self.plex.iter_parts():
            mapped: PairedItems[AssetItem, NodeItem] = self.map_pair(
                parts, self.transform_part, self.part_node, stream="parts"
            )
            await upper_written  # the body waits in the connection meanwhile: one batch is held, not the list
            await sinks.put(mapped)

    def building_node(self, building: Building, asset: AssetItem) -> AssetNode:
        """The node of a building (describing its classic asset)."""
        return asset_node(asset, self.node_mapping, building.id)

    def workcenter_node(self, workcenter: Workcenter, asset: AssetItem) -> AssetNode:
        """The node of a workcenter (describing its classic asset)."""
        return asset_node(asset, self.node_mapping, workcenter.workcenter_id)

    def part_node(self, part: Part, asset: AssetItem) -> AssetNode:
        """The node of a part (describing its classic asset)."""
        return asset_node(asset, self.node_mapping, part.id)

    def replay_writes(self, letter: DeadLetter) -> Sequence[tuple[BoundSink[Any], Sequence[KeyedItem]]]:
        """Rebuild a building, workcenter or part from the letter's payload; write its asset and/or node."""
        sinks = self.sinks.paired(self.sinks.assets, self.sinks.nodes)
        match letter.stream:
            case "buildings":
                return sinks.writes(
                    self.pair_one(record_from_letter(Building, letter), self.transform_building, self.building_node)
                )
            case "workcenters":
                workcenter = record_from_letter(Workcenter, letter)
                return sinks.writes(self.pair_one(workcenter, self.transform_workcenter, self.workcenter_node))
            case "parts":
                return sinks.writes(
                    self.pair_one(record_from_letter(Part, letter), self.transform_part, self.part_node)
                )
            case _:
                raise ReplayUnsupportedError(f"no record type for master-data letters of stream {letter.stream!r}")
