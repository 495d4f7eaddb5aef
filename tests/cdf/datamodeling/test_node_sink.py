"""NodeSink against FakeCDF through the real async cognite-sdk: batching, bad-node isolation, faults, idempotency."""

from __future__ import annotations

import re

import pytest
from cognite.client import AsyncCogniteClient
from cognite.client.data_classes.data_modeling import NodeId, SpaceApply
from cognite.client.data_classes.data_modeling.cdm.v1 import CogniteActivityApply, CogniteAssetApply
from cognite.client.exceptions import CogniteAPIError

from plex_cognite.cdf.datamodeling import (
    ActivityNode,
    AssetNode,
    InstanceDatapointsSink,
    NodeSink,
    SourceSystemNode,
    TimeSeriesNode,
)
from plex_cognite.cdf.datamodeling.sink import is_version_conflict
from plex_cognite.cdf.items import DatapointsItem
from plex_cognite.errors import CogniteWriteError
from plex_cognite.resilience import RetryPolicy
from plex_cognite.testing import Fault
from plex_cognite.testing.fake_cdf import FakeCDF

FAST_RETRY = RetryPolicy(max_attempts=5, initial_wait_s=0.01, min_wait_s=0.01, max_wait_s=0.05, name="cdf-test")
APPLY = "/models/instances"


def assets(count: int) -> list[AssetNode]:
    """A root and its children, naming no source system (so no relation target is auto-created)."""
    return [AssetNode("root", name="Root", source=None)] + [
        AssetNode(f"a{i:04d}", name=f"A{i}", parent="root", source_id=str(i), source=None) for i in range(count - 1)
    ]


def apply_requests(fake: FakeCDF) -> list[int | None]:
    return [r.items for r in fake.request_log if r.method == "POST" and r.path == APPLY]


async def test_nodes_land_with_their_properties_and_relations(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    items = [
        SourceSystemNode("plex", name="Plex"),
        AssetNode("plant", name="Plant", source_id="1"),
        AssetNode("line", name="Line", parent="plant", description="Line 1"),
        ActivityNode("job", name="J1", start_time="2025-01-02T03:04:05.000+00:00", assets=("line",)),
        TimeSeriesNode("ts", name="Produced", assets=("line",)),
    ]
    result = await NodeSink(aclient, retry=FAST_RETRY).write(items)
    assert sorted(result.created) == sorted(i.key for i in items)
    assert result.ok
    nodes = fake_cdf.nodes()
    assert nodes[("plex", "line")]["properties"] == {
        "name": "Line",
        "description": "Line 1",
        "parent": {"space": "plex", "externalId": "plant"},
        "source": {"space": "plex", "externalId": "plex"},
    }
    assert nodes[("plex", "ts")]["properties"]["type"] == "numeric"
    assert nodes[("plex", "job")]["views"] == ["CogniteActivity"]


async def test_batches_of_at_most_1000_applied_one_at_a_time(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    result = await NodeSink(aclient, retry=FAST_RETRY).write(assets(2_500))
    assert len(result.created) == 2_500
    assert apply_requests(fake_cdf) == [1000, 1000, 500]
    assert len(fake_cdf.nodes("CogniteAsset")) == 2_500


async def test_parents_are_applied_before_their_children(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    chain = [AssetNode(f"n{i}", name=f"N{i}", parent=f"n{i - 1}" if i else None, source=None) for i in range(6)]
    sink = NodeSink(aclient, retry=FAST_RETRY, batch_size=2, auto_create_direct_relations=False)
    result = await sink.write(list(reversed(chain)))  # children first: without ordering, CDF would refuse
    assert result.ok
    assert len(result.created) == 6
    assert all(node["views"] == ["CogniteAsset"] for node in fake_cdf.nodes().values())


async def test_one_bad_node_is_isolated_and_the_rest_of_the_batch_lands(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    items: list[AssetNode | ActivityNode] = list(assets(16))
    items.insert(9, ActivityNode("bad-job", name="J", start_time="not a time"))
    result = await NodeSink(aclient, retry=FAST_RETRY).write(items)
    assert [(f.key, getattr(f, "permanent", False)) for f in result.failed] == [("bad-job", True)]
    assert "startTime" in result.failed[0].reason
    assert len(result.created) == 16
    assert ("plex", "bad-job") not in fake_cdf.nodes()
    assert len(fake_cdf.nodes("CogniteAsset")) == 16
    assert len(apply_requests(fake_cdf)) <= 1 + 2 * 5  # binary split: O(log n) requests per bad node


async def test_rate_limits_are_retried(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    fake_cdf.inject(Fault("status", status=429, method="POST", path=f"^{APPLY}$", times=3))
    result = await NodeSink(aclient, retry=FAST_RETRY).write(assets(10))
    assert result.ok
    assert len(result.created) == 10
    assert len(fake_cdf.nodes()) == 10


async def test_commit_then_fail_leaves_exactly_the_expected_nodes(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    fake_cdf.inject(Fault("commit_then_fail", status=503, method="POST", path=f"^{APPLY}$", times=1))
    result = await NodeSink(aclient, retry=FAST_RETRY).write(assets(10))
    assert result.ok
    assert sorted(result.created + result.unchanged) == sorted(a.key for a in assets(10))
    assert {key[1] for key in fake_cdf.nodes()} == {a.key for a in assets(10)}
    assert {node["version"] for node in fake_cdf.nodes().values()} == {1}


async def test_version_conflicts_are_retried(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    fake_cdf.inject(Fault("status", status=409, method="POST", path=f"^{APPLY}$", times=2))
    result = await NodeSink(aclient, retry=FAST_RETRY).write(assets(3))
    assert result.ok
    assert len(result.created) == 3
    assert len(apply_requests(fake_cdf)) == 3


async def test_a_conflict_that_does_not_clear_fails_the_batch_for_the_next_run(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    fake_cdf.inject(Fault("status", status=409, method="POST", path=f"^{APPLY}$"))
    result = await NodeSink(aclient, retry=FAST_RETRY, version_conflict_retries=1).write(assets(3))
    assert len(result.failed) == 3
    assert not any(getattr(f, "permanent", False) for f in result.failed)  # retried next run, not dead-lettered


def test_cdf_version_conflicts_are_told_apart_from_bad_nodes(fake_cdf: FakeCDF) -> None:
    client = fake_cdf.cognite_client()
    client.data_modeling.spaces.apply(SpaceApply("plex"))
    client.data_modeling.instances.apply(CogniteAssetApply("plex", "a", name="A"))
    with pytest.raises(CogniteAPIError) as conflict:
        client.data_modeling.instances.apply(CogniteAssetApply("plex", "a", name="B", existing_version=0))
    with pytest.raises(CogniteAPIError) as invalid:
        client.data_modeling.instances.apply(CogniteActivityApply("plex", "b", name="B", assets=[("nospace", "x")]))
    assert is_version_conflict(conflict.value)
    assert not is_version_conflict(invalid.value)


async def test_reapplying_is_idempotent(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    sink = NodeSink(aclient, retry=FAST_RETRY)
    await sink.write(assets(5))
    again = await sink.write(assets(5))
    assert sorted(again.unchanged) == sorted(a.key for a in assets(5))
    assert not again.created
    assert {node["version"] for node in fake_cdf.nodes().values()} == {1}
    changed = await sink.write([AssetNode("a0000", name="Renamed", parent="root", source=None)])
    assert changed.updated == ["a0000"]
    assert fake_cdf.nodes()[("plex", "a0000")]["properties"]["sourceId"] == "0"  # patch: unset properties kept


async def test_the_instance_space_is_created_once(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    sink = NodeSink(aclient, instance_space="plant_a", retry=FAST_RETRY)
    await sink.write([AssetNode("x", space="plant_a", name="X", source=None)])
    await sink.write([AssetNode("y", space="plant_a", name="Y", source=None)])
    assert fake_cdf.request_counts("POST", "/models/spaces") == 1
    assert set(fake_cdf.nodes()) == {("plant_a", "x"), ("plant_a", "y")}


async def test_refused_credentials_raise(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    fake_cdf.inject(Fault("status", status=403, method="POST", path=f"^{APPLY}$"))
    with pytest.raises(CogniteWriteError, match="403"):
        await NodeSink(aclient, retry=FAST_RETRY).write(assets(2))


async def test_datapoints_by_instance_id(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    await NodeSink(aclient, retry=FAST_RETRY).write([TimeSeriesNode("wc_produced", name="Produced")])
    sink = InstanceDatapointsSink(aclient, retry=FAST_RETRY)
    result = await sink.write(
        [
            DatapointsItem("wc_produced", [(1_000, 2.0), (1_000, 3.0), (2_000, 1.0)]),
            DatapointsItem("no_such_series", [(1_000, 1.0)]),
        ]
    )
    assert result.created == ["wc_produced"]
    assert [(f.key, bool(re.search("does not exist", f.reason))) for f in result.failed] == [("no_such_series", True)]
    points = await aclient.time_series.data.retrieve(instance_id=NodeId("plex", "wc_produced"), start=0, end=10_000)
    assert list(zip(points.timestamp, points.value, strict=True)) == [(1_000, 5.0), (2_000, 1.0)]  # type: ignore[union-attr]
    bodies = [r for r in fake_cdf.request_log if r.path == "/timeseries/data"]
    assert len(bodies) == 2  # the unknown series is dropped and the rest re-sent


def test_batch_size_is_bounded(aclient: AsyncCogniteClient) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        NodeSink(aclient, batch_size=1001)


async def test_the_sync_client_works_too(fake_cdf: FakeCDF) -> None:
    result = await NodeSink(fake_cdf.cognite_client(), retry=FAST_RETRY).write(assets(3))
    assert len(result.created) == 3
