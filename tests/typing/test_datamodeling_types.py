"""Type-checked usage of the Core Data Model sink (run by `mypy --strict`, and executed by pytest as a smoke test)."""

from __future__ import annotations

from typing import assert_type

from cognite.client import AsyncCogniteClient
from cognite.client.data_classes.data_modeling.cdm.v1 import CogniteAssetApply

from plex_cognite.cdf.datamodeling import AssetNode, InstanceDatapointsSink, NodeItem, NodeSink, node_from_json
from plex_cognite.cdf.items import DatapointsItem
from plex_cognite.core.results import WriteResult
from plex_cognite.extractors.node_mapping import NodeContext, plant_node
from plex_cognite.testing import FakeCDF
from plex_cognite.typing import Sink


async def write_nodes(client: AsyncCogniteClient) -> WriteResult:
    sink: Sink[NodeItem] = NodeSink(client, instance_space="plex")
    points: Sink[DatapointsItem] = InstanceDatapointsSink(client, instance_space="plex")
    await points.write([DatapointsItem("PCN1_WC_1_PRODUCED_QTY", [(0, 1.0)])])
    return await sink.write([plant_node(NodeContext(pcn="1"))])


def test_items_round_trip_with_precise_types() -> None:
    node = plant_node(NodeContext(pcn="340884"))
    assert_type(node, AssetNode)
    assert_type(AssetNode.from_json(node.to_json()), AssetNode)
    assert_type(node_from_json(node.to_json()), NodeItem)
    assert_type(node.to_apply(), CogniteAssetApply)
    assert node_from_json(node.to_json()) == node


async def test_sinks_fit_the_sink_protocol() -> None:
    with FakeCDF() as cdf:
        result = await write_nodes(cdf.async_cognite_client())
    assert result.ok
    assert result.created == ["PCN1_PLANT"]
