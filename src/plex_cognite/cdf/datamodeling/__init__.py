"""The Core Data Model sink: Plex records as `CogniteAsset`, `CogniteActivity` and `CogniteTimeSeries` nodes.

Node items (`items`), the `NodeSink` that applies them and the `InstanceDatapointsSink` that writes datapoints by
instance id. The mapping from Plex records to nodes is `plex_cognite.extractors.node_mapping`. See
`docs/datamodeling.md`.
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
from plex_cognite.cdf.datamodeling.sink import MAX_NODES_PER_REQUEST, NodeSink

__all__ = [
    "DEFAULT_INSTANCE_SPACE",
    "MAX_NODES_PER_REQUEST",
    "PLEX_SOURCE_SYSTEM",
    "ActivityNode",
    "AssetNode",
    "InstanceDatapointsSink",
    "NodeItem",
    "NodeSink",
    "SourceSystemNode",
    "TimeSeriesNode",
    "node_from_json",
]
