"""Jobs: one CDF event per Plex job, linked to its part asset (and building) by numeric id.

Jobs are read whole on every run (a snapshot); only jobs whose event content changed since the last acknowledged
write are sent. A job whose part asset does not exist is held (never written unlinked) and written again after the
run's other writes, and on later runs until the part exists.

When `cdf.sink` writes nodes, each job is also (or only) a `CogniteActivity` node whose `assets` relation names the
part (and building) nodes; a part node that does not exist yet is created empty by CDF, so nothing is held.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from plex_cognite.cdf.datamodeling import ActivityNode
from plex_cognite.cdf.items import EventItem
from plex_cognite.core.bound_sink import BoundSink
from plex_cognite.extractors._replay import record_from_letter
from plex_cognite.extractors._transforms import job_event
from plex_cognite.extractors.base import MappedExtractor
from plex_cognite.extractors.node_mapping import job_activity
from plex_cognite.plex.models import Job
from plex_cognite.typing import DeadLetter, KeyedItem

__all__ = ["JobsExtractor"]


class JobsExtractor(MappedExtractor[Job, EventItem]):
    """Plex jobs as CDF events of type `job` and/or `CogniteActivity` nodes, per `cdf.sink`.

    Mappings: `job_event` (pass `transform=` to change it) and `job_activity` (override `transform_activity`).
    """

    stream: ClassVar[str] = "jobs"
    default_transform = staticmethod(job_event)
    record_model = Job

    def transform_activity(self, job: Job, event: EventItem) -> ActivityNode:
        """Map one job to its activity node (`event` is its classic event, for overrides that build on it)."""
        return job_activity(job, self.node_mapping)

    def replay_writes(self, letter: DeadLetter) -> Sequence[tuple[BoundSink[Any], Sequence[KeyedItem]]]:
        """Rebuild the job from the letter's payload; write its event and/or activity, per `cdf.sink`."""
        sinks = self.sinks.paired(self.sinks.events, self.sinks.nodes)
        return sinks.writes(self.pair_one(record_from_letter(Job, letter), self.transform, self.transform_activity))

    async def extract(self) -> None:
        """Read every job and write the changed ones."""
        sinks = self.sinks.paired(self.sinks.events, self.sinks.nodes)
        async for jobs in self.plex.iter_jobs():
            await sinks.put(self.map_pair(jobs, self.transform, self.transform_activity))
