"""Workcenter status log: one CDF event per status entry, from `logDate` to `logDate + duration` seconds.

Read in half-open windows of `logDate`; a window is committed once its events are acknowledged. Events whose
workcenter or part asset is missing are held and written again after the run's other writes, and on later runs.

Status entries are high-volume system events: they are not written as nodes. With `cdf.sink: datamodeling` (no
classic assets to link to) the stream reads nothing and writes nothing, and says so in the log.
"""

from __future__ import annotations

from typing import ClassVar

from plex_cognite.cdf.items import EventItem
from plex_cognite.extractors._transforms import workcenter_status_event
from plex_cognite.extractors.base import MappedExtractor
from plex_cognite.plex.models import WorkcenterStatusEntry

__all__ = ["WorkcenterStatusExtractor"]


class WorkcenterStatusExtractor(MappedExtractor[WorkcenterStatusEntry, EventItem]):
    """Workcenter status entries as CDF events of type `workcenter_status` (mapping: `workcenter_status_event`)."""

    stream: ClassVar[str] = "workcenter_status"
    span_records: ClassVar[int] = 5_000
    default_transform = staticmethod(workcenter_status_event)
    record_model = WorkcenterStatusEntry

    async def extract(self) -> None:
        """Read and write every window not yet done (plus the lookback tail); nothing without classic resources."""
        if not self.settings.cdf.writes_classic:
            self.log.warning("stream_skipped", reason="workcenter status entries are written as classic events only")
            return
        async for window, entries in self.windows(self.plex.read_workcenter_status_entries):
            await self.sinks.events.put(self.map_records(entries, self.transform), window=window)
