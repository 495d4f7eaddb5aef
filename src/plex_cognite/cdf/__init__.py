"""The CDF side: write items, the asset-id resolver and linker, sinks, and client construction."""

from __future__ import annotations

from plex_cognite.cdf.client import build_async_cognite_client, build_client_config, build_cognite_client
from plex_cognite.cdf.items import AssetItem, DatapointsItem, EventItem, PointArray, RawRowItem, TimeSeriesItem
from plex_cognite.cdf.linker import AssetsNotFoundError, EventAssetLinker, LinkResult, OnMissingAsset
from plex_cognite.cdf.resolver import AssetIDResolver, AsyncMode, SyncMode, get_resolver
from plex_cognite.cdf.sinks import AssetSink, DatapointsSink, EventSink, RawSink, SinkMetrics, TimeSeriesSink

__all__ = [
    "AssetIDResolver",
    "AssetItem",
    "AssetSink",
    "AssetsNotFoundError",
    "AsyncMode",
    "DatapointsItem",
    "DatapointsSink",
    "EventAssetLinker",
    "EventItem",
    "EventSink",
    "LinkResult",
    "OnMissingAsset",
    "PointArray",
    "RawRowItem",
    "RawSink",
    "SinkMetrics",
    "SyncMode",
    "TimeSeriesItem",
    "TimeSeriesSink",
    "build_async_cognite_client",
    "build_client_config",
    "build_cognite_client",
    "get_resolver",
]
