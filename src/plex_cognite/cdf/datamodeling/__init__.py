"""The Core Data Model sink: Plex records as `CogniteAsset`, `CogniteActivity` and `CogniteTimeSeries` nodes.

Node items (`items`), pure mappings from Plex records (`mapping`), the `NodeSink` that applies them and the
`InstanceDatapointsSink` that writes datapoints by instance id. See `docs/datamodeling.md`.
"""

from plex_cognite.cdf.datamodeling.datapoints import InstanceDatapointsSink
from plex_cognite.cdf.datamodeling.items import (
    DEFAULT_INSTANCE_SPACE,
    PLEX_SOURCE_SYSTEM,
    ActivityNode,
    AssetNode,
    NodeItem,
    SourceSystemNode,
    TimeSeriesNode,
    node_from_json,
)
from plex_cognite.cdf.datamodeling.mapping import (
    NodeContext,
    asset_node,
    building_node,
    job_activity,
    part_node,
    parts_catalog_node,
    plant_node,
    plex_source_system,
    production_series_node,
    scrap_series_node,
    series_node,
    workcenter_node,
)
from plex_cognite.cdf.datamodeling.sink import MAX_NODES_PER_REQUEST, NodeSink

__all__ = [
    "DEFAULT_INSTANCE_SPACE",
    "MAX_NODES_PER_REQUEST",
    "PLEX_SOURCE_SYSTEM",
    "ActivityNode",
    "AssetNode",
    "InstanceDatapointsSink",
    "NodeContext",
    "NodeItem",
    "NodeSink",
    "SourceSystemNode",
    "TimeSeriesNode",
    "asset_node",
    "building_node",
    "job_activity",
    "node_from_json",
    "part_node",
    "parts_catalog_node",
    "plant_node",
    "plex_source_system",
    "production_series_node",
    "scrap_series_node",
    "series_node",
    "workcenter_node",
]
