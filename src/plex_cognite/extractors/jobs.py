"""Jobs: one CDF event per Plex job, linked to its part asset (and building) by numeric id.

Jobs are read whole on every run (a snapshot); only jobs whose event content changed since the last acknowledged
write are sent. A job whose part asset does not exist is held (never written unlinked) and written again after the
run's other writes, and on later runs until the part exists.
"""

from __future__ import annotations

from typing import ClassVar

from plex_cognite.cdf.items import EventItem
from plex_cognite.extractors._transforms import job_event
from plex_cognite.extractors.base import MappedExtractor
from plex_cognite.plex.models import Job

__all__ = ["JobsExtractor"]


class JobsExtractor(MappedExtractor[Job, EventItem]):
    """Plex jobs as CDF events of type `job` (mapping: `job_event`; pass `transform=` to change it)."""

    stream: ClassVar[str] = "jobs"
    default_transform = staticmethod(job_event)
    record_model = Job

    async def extract(self) -> None:
        """Read every job and write the changed ones."""
        async for jobs in self.plex.iter_jobs():
            await self.sinks.events.put(self.map_records(jobs, self.transform))
