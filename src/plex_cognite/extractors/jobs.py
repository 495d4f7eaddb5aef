"""Jobs: one CDF event per Plex job, linked to its part asset (and building) by numeric id.

Jobs are read whole on every run (a snapshot); only jobs whose event content changed since the last acknowledged
write are sent. A job whose part asset does not exist is deferred by the sink (never written unlinked) and, because
its hash is not stored, retried on the next run after the asset pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import ClassVar

from plex_cognite.cdf.items import EventItem
from plex_cognite.core.extractor import Extractor, ExtractorContext, StreamReport
from plex_cognite.core.state import StreamState
from plex_cognite.extractors._transforms import MappingContext, job_event
from plex_cognite.plex.client import AsyncPlexClient
from plex_cognite.plex.models import Job
from plex_cognite.typing import Sink

__all__ = ["JobsExtractor"]


class JobsExtractor(Extractor):
    """Plex jobs as CDF events of type `job`.

    Args:
        context: The PCN's context.
        plex: An open `AsyncPlexClient`.
        sink: The event sink (an `EventSink`, which links asset external ids to numeric ids).
        transform: Job -> event (default `job_event`); or subclass and override `transform`.
    """

    stream: ClassVar[str] = "jobs"

    def __init__(
        self,
        context: ExtractorContext,
        plex: AsyncPlexClient,
        sink: Sink[EventItem],
        *,
        transform: Callable[[Job, MappingContext], EventItem] = job_event,
    ) -> None:
        super().__init__(context)
        self.plex = plex
        self.sink = sink
        self.mapping = MappingContext(context.pcn, context.ids, context.data_set_id)
        self._transform = transform

    def transform(self, job: Job) -> EventItem:
        """Map one job."""
        return self._transform(job, self.mapping)

    async def extract(self, state: StreamState, report: StreamReport) -> None:
        """Read every job and write the changed ones."""

        async def events() -> AsyncIterator[Sequence[EventItem]]:
            async for jobs in self.plex.iter_jobs(self.pcn):
                yield self.map_records(jobs, self.transform, report)

        await self.write_snapshot(events(), self.sink, state, report)
