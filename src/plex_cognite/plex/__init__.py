"""The Plex side: `AsyncPlexClient` (Connect REST API), `DataSourceClient` (Data Source API) and typed records.

See `docs/plex-client.md` for a tour.
"""

from __future__ import annotations

from plex_cognite.plex._dates import Window, format_plex_datetime, iter_windows, parse_plex_datetime
from plex_cognite.plex.client import PATHS, AsyncPlexClient, WindowBatch
from plex_cognite.plex.datasource import DataSourceClient, DataSourceResult, DataSourceWindowResult
from plex_cognite.plex.models import (
    Building,
    Container,
    ContainerLocationMove,
    Job,
    JobOperation,
    Location,
    Part,
    PlexDateTime,
    PlexRecord,
    ProductionEntry,
    ScrapEntry,
    Workcenter,
    WorkcenterStatus,
    WorkcenterStatusEntry,
)

__all__ = [
    "PATHS",
    "AsyncPlexClient",
    "Building",
    "Container",
    "ContainerLocationMove",
    "DataSourceClient",
    "DataSourceResult",
    "DataSourceWindowResult",
    "Job",
    "JobOperation",
    "Location",
    "Part",
    "PlexDateTime",
    "PlexRecord",
    "ProductionEntry",
    "ScrapEntry",
    "Window",
    "WindowBatch",
    "Workcenter",
    "WorkcenterStatus",
    "WorkcenterStatusEntry",
    "format_plex_datetime",
    "iter_windows",
    "parse_plex_datetime",
]
