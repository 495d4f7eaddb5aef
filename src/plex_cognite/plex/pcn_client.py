"""An `AsyncPlexClient` bound to one PCN: what an extractor sees as `self.plex`.

Every call of the client, without the `pcn` argument. The client underneath (`.client`) is shared by every PCN and
stream of a run, so the rate limit, the circuit breaker and the connection pool are shared too.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime
from typing import TypeVar

import pydantic

from plex_cognite.plex._connect import QueryParams
from plex_cognite.plex.client import AsyncPlexClient
from plex_cognite.plex.datasource import DataSourceClient
from plex_cognite.plex.models import (
    Building,
    Container,
    ContainerLocationMove,
    Job,
    JobOperation,
    Location,
    Part,
    ProductionEntry,
    ScrapEntry,
    Workcenter,
    WorkcenterStatus,
    WorkcenterStatusEntry,
)
from plex_cognite.typing import Pcn, TimeWindow

__all__ = ["PcnPlexClient"]

RecordT = TypeVar("RecordT", bound=pydantic.BaseModel)


class PcnPlexClient:
    """The Plex calls of one PCN (see `AsyncPlexClient` for what each does).

    Args:
        client: An open `AsyncPlexClient`.
        pcn: The PCN every call is made for.

    Example:
        >>> async for parts in self.plex.iter_parts():
        ...     ...
        >>> entries = await self.plex.read_production_entries((start, end))
    """

    def __init__(self, client: AsyncPlexClient, pcn: Pcn) -> None:
        self.client = client
        self.pcn = pcn

    def __repr__(self) -> str:
        return f"PcnPlexClient(pcn={self.pcn!r})"

    @property
    def datasource(self) -> DataSourceClient:
        """The Data Source API client of the default account (needs `plex.datasource` settings)."""
        return self.client.datasource

    async def datasource_for_pcn(self) -> DataSourceClient:
        """The Data Source API client of this PCN's account (see `AsyncPlexClient.datasource_for`)."""
        return await self.client.datasource_for(self.pcn)

    # -- lists -----------------------------------------------------------------------------------------------------

    def iter_list(
        self, path: str, model: type[RecordT], *, stream: str, params: QueryParams | None = None
    ) -> AsyncGenerator[list[RecordT], None]:
        """Any list endpoint answering one JSON array, in batches of `model` (see `AsyncPlexClient.iter_list`)."""
        return self.client.iter_list(self.pcn, path, model, stream=stream, params=params)

    def iter_buildings(self) -> AsyncGenerator[list[Building], None]:
        """Buildings, in batches."""
        return self.client.iter_buildings(self.pcn)

    def iter_workcenters(self) -> AsyncGenerator[list[Workcenter], None]:
        """Workcenters, in batches."""
        return self.client.iter_workcenters(self.pcn)

    def iter_parts(self, *, status: str | None = None) -> AsyncGenerator[list[Part], None]:
        """Parts (optionally of one status), in batches."""
        return self.client.iter_parts(self.pcn, status=status)

    def iter_jobs(self, *, statuses: Sequence[str] | None = None) -> AsyncGenerator[list[Job], None]:
        """Jobs (optionally of some statuses), streamed in batches."""
        return self.client.iter_jobs(self.pcn, statuses=statuses)

    def iter_job_operations(self, job_id: str) -> AsyncGenerator[list[JobOperation], None]:
        """Operations of one job, in batches."""
        return self.client.iter_job_operations(self.pcn, job_id)

    def iter_locations(self) -> AsyncGenerator[list[Location], None]:
        """Inventory locations, in batches."""
        return self.client.iter_locations(self.pcn)

    def iter_containers(self) -> AsyncGenerator[list[Container], None]:
        """Active containers, in batches: a full snapshot that ends normally only once read completely."""
        return self.client.iter_containers(self.pcn)

    async def list_workcenter_statuses(self) -> list[WorkcenterStatus]:
        """Workcenter status definitions."""
        return await self.client.list_workcenter_statuses(self.pcn)

    # -- history, one window at a time -----------------------------------------------------------------------------

    async def read_history(
        self,
        path: str,
        model: type[RecordT],
        window: TimeWindow,
        *,
        stream: str,
        time_of: Callable[[RecordT], datetime],
        params: QueryParams | None = None,
    ) -> list[RecordT]:
        """Every valid record of a `*-history` endpoint in one window (see `AsyncPlexClient.read_history`)."""
        return await self.client.read_history(
            self.pcn, path, model, window, stream=stream, time_of=time_of, params=params
        )

    async def read_production_entries(self, window: TimeWindow) -> list[ProductionEntry]:
        """Production entries of one window."""
        return await self.client.read_production_entries(self.pcn, window)

    async def read_scrap_entries(self, window: TimeWindow) -> list[ScrapEntry]:
        """Scrap entries of one window."""
        return await self.client.read_scrap_entries(self.pcn, window)

    async def read_container_moves(self, window: TimeWindow) -> list[ContainerLocationMove]:
        """Container location moves of one window."""
        return await self.client.read_container_moves(self.pcn, window)

    async def read_workcenter_status_entries(self, window: TimeWindow) -> list[WorkcenterStatusEntry]:
        """Workcenter status log entries of one window."""
        return await self.client.read_workcenter_status_entries(self.pcn, window)
