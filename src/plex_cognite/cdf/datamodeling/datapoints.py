"""Datapoints for `CogniteTimeSeries` nodes, inserted by instance id."""

from __future__ import annotations

from typing import Any

from cognite.client import AsyncCogniteClient, CogniteClient

from plex_cognite.cdf._data_sinks import MAX_DATAPOINTS_PER_REQUEST, DatapointsSink
from plex_cognite.cdf._upsert import BatchRetry
from plex_cognite.cdf.datamodeling.items import DEFAULT_INSTANCE_SPACE

__all__ = ["InstanceDatapointsSink"]


class InstanceDatapointsSink(DatapointsSink):
    """A `DatapointsSink` that addresses series by `instanceId` (`{"space", "externalId"}`) instead of external id.

    `DatapointsItem.external_id` is the `CogniteTimeSeries` node's external id in `instance_space`. Everything else
    (sanitising, summing points that share a millisecond, packing up to 100,000 points per request, a missing series
    failing alone) is the `DatapointsSink`'s.

    Args:
        client: cognite-sdk client.
        instance_space: The space of the time series nodes.
        concurrency: Requests in flight at once.
        retry: Batch retry policy.
        metrics: Optional metrics hook (see `SinkMetrics`).
        max_points_per_request: Points per request (at most 100,000).
    """

    def __init__(
        self,
        client: AsyncCogniteClient | CogniteClient,
        *,
        instance_space: str = DEFAULT_INSTANCE_SPACE,
        concurrency: int = 4,
        retry: BatchRetry | None = None,
        metrics: object | None = None,
        max_points_per_request: int = MAX_DATAPOINTS_PER_REQUEST,
    ) -> None:
        super().__init__(
            client,
            concurrency=concurrency,
            retry=retry,
            metrics=metrics,
            max_points_per_request=max_points_per_request,
        )
        self.instance_space = instance_space

    def series_identifier(self, key: str) -> dict[str, Any]:
        """`{"instanceId": {"space": instance_space, "externalId": key}}`."""
        return {"instanceId": {"space": self.instance_space, "externalId": key}}

    def missing_key(self, identifier: dict[str, Any]) -> str | None:
        """The node external id of a missing `{"instanceId": {...}}` in this sink's space."""
        instance = identifier.get("instanceId")
        if isinstance(instance, dict) and instance.get("space") == self.instance_space:
            xid = instance.get("externalId")
            return xid if isinstance(xid, str) else None
        return None
