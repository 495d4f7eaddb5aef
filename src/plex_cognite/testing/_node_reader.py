"""Read the Core Data Model nodes and their datapoints back through the cognite-sdk, with its typed CDM classes.

What `ExpectedGraph.mismatches` compares with: works against FakeCDF and against a real CDF project alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cognite.client import CogniteClient

__all__ = ["NodeGraph", "read_node_datapoints", "read_node_graph"]

#: View name -> node external id -> the node's properties through that view (camelCase, as CDF returns them).
NodeGraph = dict[str, dict[str, dict[str, Any]]]


def read_node_graph(client: CogniteClient, space: str) -> tuple[NodeGraph, set[str]]:
    """Every node of `space` by CDM view, read with the SDK's typed classes, and the nodes with data in no view.

    Args:
        client: A cognite-sdk client.
        space: The instance space.

    Returns:
        `(graph, empty)`: the properties per view and node external id, and the external ids of empty nodes
        (the targets CDF created for direct relations to nodes that did not exist).
    """
    from cognite.client.data_classes.data_modeling.cdm.v1 import (
        CogniteActivity,
        CogniteAsset,
        CogniteSourceSystem,
        CogniteTimeSeries,
    )

    views: dict[str, Any] = {
        "CogniteSourceSystem": CogniteSourceSystem,
        "CogniteAsset": CogniteAsset,
        "CogniteActivity": CogniteActivity,
        "CogniteTimeSeries": CogniteTimeSeries,
    }
    graph: NodeGraph = {}
    for view, cls in views.items():
        nodes = client.data_modeling.instances.list(instance_type=cls, space=space, limit=-1)
        graph[view] = {
            node.external_id: node.dump(camel_case=True)["properties"]["cdf_cdm"][f"{view}/v1"] for node in nodes
        }
    everything = {node.external_id for node in client.data_modeling.instances.list(space=space, limit=-1)}
    with_data = {xid for nodes in graph.values() for xid in nodes}
    return graph, everything - with_data


def read_node_datapoints(
    client: CogniteClient, space: str, series: Iterable[str]
) -> dict[str, list[tuple[int, float]]]:
    """All numeric datapoints of each `CogniteTimeSeries` node (by instance id), as `(timestamp ms, value)`."""
    from cognite.client.data_classes.data_modeling import NodeId

    out: dict[str, list[tuple[int, float]]] = {}
    for xid in series:
        points = client.time_series.data.retrieve(instance_id=NodeId(space, xid), start=0, end="now", limit=None)
        values: list[Any] = [] if points is None else list(points.value or [])
        stamps = [] if points is None else points.timestamp
        out[xid] = [(int(ts), float(value)) for ts, value in zip(stamps, values, strict=True)]
    return out
