"""The Plex extractors, their public base `AsyncBaseExtractor`, and the default mapping (`docs/mapping.md`).

```python
from plex_cognite.extractors import AsyncBaseExtractor, JobsExtractor, job_event, MappingContext
```

Each extractor runs one stream for one PCN; `plex_cognite.runner.run_extractors` runs them all. Every built-in
extractor subclasses `AsyncBaseExtractor`, as yours do. The mapping functions are pure (record + `MappingContext`
-> item); pass your own to an extractor to change the mapping.
"""

from __future__ import annotations

from plex_cognite.extractors._transforms import (
    MappingContext,
    QuantitySums,
    building_asset,
    check_quantity,
    epoch_ms,
    job_event,
    part_asset,
    parts_catalog_asset,
    plant_asset,
    production_series,
    quantity_datapoints,
    scrap_series,
    workcenter_asset,
    workcenter_status_event,
)
from plex_cognite.extractors.base import AsyncBaseExtractor, MappedExtractor, Sinks
from plex_cognite.extractors.container_moves import ContainerMovesExtractor
from plex_cognite.extractors.datasource import DataSourceExtractor
from plex_cognite.extractors.inventory import InventoryExtractor
from plex_cognite.extractors.jobs import JobsExtractor
from plex_cognite.extractors.master_data import MasterDataExtractor
from plex_cognite.extractors.production import ProductionExtractor, ScrapExtractor
from plex_cognite.extractors.resources import ExtractorResources, open_resources
from plex_cognite.extractors.workcenter_status import WorkcenterStatusExtractor

__all__ = [
    "AsyncBaseExtractor",
    "ContainerMovesExtractor",
    "DataSourceExtractor",
    "ExtractorResources",
    "InventoryExtractor",
    "JobsExtractor",
    "MappedExtractor",
    "MappingContext",
    "MasterDataExtractor",
    "ProductionExtractor",
    "QuantitySums",
    "ScrapExtractor",
    "Sinks",
    "WorkcenterStatusExtractor",
    "building_asset",
    "check_quantity",
    "epoch_ms",
    "job_event",
    "open_resources",
    "part_asset",
    "parts_catalog_asset",
    "plant_asset",
    "production_series",
    "quantity_datapoints",
    "scrap_series",
    "workcenter_asset",
    "workcenter_status_event",
]
