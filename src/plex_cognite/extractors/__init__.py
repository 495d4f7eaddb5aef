"""The Plex extractors and the default mapping they use (DESIGN section 5).

```python
from plex_cognite.extractors import JobsExtractor, job_event, MappingContext
```

Each extractor runs one stream for one PCN; `plex_cognite.runner.run_extractors` runs them all. The mapping
functions are pure (record + `MappingContext` -> item); pass your own to an extractor to change the mapping.
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
from plex_cognite.extractors.jobs import JobsExtractor
from plex_cognite.extractors.master_data import MasterDataExtractor
from plex_cognite.extractors.production import ProductionExtractor, ScrapExtractor
from plex_cognite.extractors.workcenter_status import WorkcenterStatusExtractor

__all__ = [
    "JobsExtractor",
    "MappingContext",
    "MasterDataExtractor",
    "ProductionExtractor",
    "QuantitySums",
    "ScrapExtractor",
    "WorkcenterStatusExtractor",
    "building_asset",
    "check_quantity",
    "epoch_ms",
    "job_event",
    "part_asset",
    "parts_catalog_asset",
    "plant_asset",
    "production_series",
    "quantity_datapoints",
    "scrap_series",
    "workcenter_asset",
    "workcenter_status_event",
]
