"""Workcenter status log: one CDF event per status entry, from `logDate` to `logDate + duration` seconds.

Read in half-open windows of `logDate`; a window is marked done once its events are acknowledged. Events whose
workcenter or part asset is missing are kept in state and retried at the start of the next run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import ClassVar

from plex_cognite.cdf.items import EventItem
from plex_cognite.core.extractor import Chunk, Extractor, ExtractorContext, StreamReport
from plex_cognite.core.state import StreamState
from plex_cognite.extractors._transforms import MappingContext, workcenter_status_event
from plex_cognite.plex.client import AsyncPlexClient
from plex_cognite.plex.models import WorkcenterStatusEntry
from plex_cognite.typing import Sink

__all__ = ["WorkcenterStatusExtractor"]


class WorkcenterStatusExtractor(Extractor):
    """Workcenter status entries as CDF events of type `workcenter_status`.

    Args:
        context: The PCN's context (`start`, `end`, `window` set the history read).
        plex: An open `AsyncPlexClient`.
        sink: The event sink.
        transform: Entry -> event (default `workcenter_status_event`); or override `transform`.
    """

    stream: ClassVar[str] = "workcenter_status"

    def __init__(
        self,
        context: ExtractorContext,
        plex: AsyncPlexClient,
        sink: Sink[EventItem],
        *,
        transform: Callable[[WorkcenterStatusEntry, MappingContext], EventItem] = workcenter_status_event,
    ) -> None:
        super().__init__(context)
        self.plex = plex
        self.sink = sink
        self.mapping = MappingContext(context.pcn, context.ids, context.data_set_id)
        self._transform = transform

    def transform(self, entry: WorkcenterStatusEntry) -> EventItem:
        """Map one status entry."""
        return self._transform(entry, self.mapping)

    async def extract(self, state: StreamState, report: StreamReport) -> None:
        """Retry deferred events, then read and write every window not yet done (plus the lookback tail)."""
        await self.retry_deferred(self.sink, state, report)
        await self.write_windows(self._chunks(state, report), self.sink, state, report)

    async def _chunks(self, state: StreamState, report: StreamReport) -> AsyncIterator[Chunk[EventItem]]:
        for gap_start, gap_end in self.planned_ranges(state):
            async for batch in self.plex.iter_workcenter_status_windows(
                self.pcn, gap_start, gap_end, self.context.window
            ):
                items = self.map_records(batch.records, self.transform, report)
                yield Chunk(items, (batch.window.start, batch.window.end) if batch.complete else None)
