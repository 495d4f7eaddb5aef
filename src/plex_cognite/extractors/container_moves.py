"""Container location moves: one CDF event per move, read in half-open windows of `adjustmentDate`.

Each event (`PCN{pcn}_MOVE_{serialNo}_{adjustmentDate ms}`, type `container_move`, subtype `adjustmentCode`) links
the part and, where the plant lists the destination location, that location. The location assets belong to the
`inventory` stream; when a listed location is not in CDF yet (both streams start together on a first run), this
stream creates it with the same mapping, so moves are linked from the first run on. A move whose part asset does not
exist follows `extraction.on_missing_asset` (by default it is held and written once the part exists); a move Plex
sends malformed (no `adjustmentDate`, a wrongly typed field) is dead-lettered by the client. A window is committed
only once its events were acknowledged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import ClassVar

from plex_cognite.cdf.items import EventItem
from plex_cognite.core.context import ExtractorContext
from plex_cognite.extractors._inventory import container_move_event, location_asset
from plex_cognite.extractors._transforms import MappingContext
from plex_cognite.extractors.base import AsyncBaseExtractor
from plex_cognite.extractors.inventory import read_locations
from plex_cognite.extractors.resources import ExtractorResources
from plex_cognite.plex.models import ContainerLocationMove

__all__ = ["ContainerMovesExtractor"]

MoveTransform = Callable[[ContainerLocationMove, MappingContext, Collection[str] | None], EventItem]


def _default_move_event(
    move: ContainerLocationMove, ctx: MappingContext, known_locations: Collection[str] | None
) -> EventItem:
    return container_move_event(move, ctx, known_locations=known_locations)


class ContainerMovesExtractor(AsyncBaseExtractor):
    """Container location moves as events of type `container_move` (see the module docstring).

    Args:
        context: The PCN's context (`start`, `end`, `window` set the history read).
        resources: The run's shared clients and sinks.
        transform: Move, mapping context, location ids the plant lists -> event (default
            `container_move_event`).
    """

    stream: ClassVar[str] = "container_moves"
    span_records: ClassVar[int] = 5_000

    def __init__(
        self, context: ExtractorContext, resources: ExtractorResources, *, transform: MoveTransform | None = None
    ) -> None:
        super().__init__(context, resources)
        self._transform = transform or _default_move_event

    def transform(self, move: ContainerLocationMove, *, known_locations: Collection[str] | None) -> EventItem:
        """Map one move (override to change the mapping in a subclass)."""
        return self._transform(move, self.mapping, known_locations)

    async def known_locations(self) -> set[str]:
        """The location ids the plant lists, each made sure to exist as an asset (missing ones are created)."""
        building_ids, locations = await read_locations(self.plex)
        ids, pcn = self.mapping.ids, self.pcn
        existing = await self.resolver.resolve_async(ids.location(pcn, loc.location_id) for loc in locations)
        missing = [loc for loc in locations if ids.location(pcn, loc.location_id) not in existing]
        if missing:
            await self.sinks.assets.write(
                self.map_records(missing, lambda location: location_asset(location, building_ids, self.mapping))
            )
        return {location.location_id for location in locations}

    async def extract(self) -> None:
        """Write the events of every window not yet done (plus the lookback tail)."""
        known: set[str] | None = None
        async for window, moves in self.windows(self.plex.read_container_moves):
            if known is None:
                known = await self.known_locations()
            events = self.map_records(moves, functools.partial(self.transform, known_locations=known))
            await self.sinks.events.put(events, window=window)
