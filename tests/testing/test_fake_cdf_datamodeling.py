"""FakeCDF data modeling through the real cognite-sdk: spaces, CDM nodes, validation, version conflicts, datapoints."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cognite.client import AsyncCogniteClient, CogniteClient
from cognite.client.data_classes.data_modeling import (
    DirectRelationReference,
    NodeApply,
    NodeId,
    NodeOrEdgeData,
    SpaceApply,
    ViewId,
)
from cognite.client.data_classes.data_modeling.cdm.v1 import (
    CogniteActivity,
    CogniteActivityApply,
    CogniteAsset,
    CogniteAssetApply,
    CogniteSourceSystemApply,
    CogniteTimeSeries,
    CogniteTimeSeriesApply,
)
from cognite.client.exceptions import CogniteAPIError

from plex_cognite.testing import Fault
from plex_cognite.testing.fake_cdf import FakeCDF
from tests.testing._support import api, fast_retries

ASSET_VIEW = ViewId("cdf_cdm", "CogniteAsset", "v1")


@pytest.fixture
def space(cognite_client: CogniteClient) -> str:
    cognite_client.data_modeling.spaces.apply(SpaceApply("plex"))
    return "plex"


def _hierarchy(space: str) -> list[CogniteAssetApply]:
    return [
        CogniteAssetApply(space, "plant", name="Plant", source=(space, "plex")),
        CogniteAssetApply(space, "line", name="Line 1", parent=(space, "plant"), source_id="42"),
    ]


def test_spaces_apply_retrieve_and_list(cognite_client: CogniteClient) -> None:
    cognite_client.data_modeling.spaces.apply(SpaceApply("plex", name="Plex"))
    assert cognite_client.data_modeling.spaces.retrieve("plex").name == "Plex"  # type: ignore[union-attr]
    assert [s.space for s in cognite_client.data_modeling.spaces.list(limit=-1)] == ["plex"]
    assert "cdf_cdm" in {s.space for s in cognite_client.data_modeling.spaces.list(limit=-1, include_global=True)}


def test_apply_then_read_back_with_the_typed_classes(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, space: str
) -> None:
    result = cognite_client.data_modeling.instances.apply(
        [CogniteSourceSystemApply(space, "plex", name="Plex"), *_hierarchy(space)]
    )
    assert [(n.external_id, n.version, n.was_modified) for n in result.nodes] == [
        ("plex", 1, True),
        ("plant", 1, True),
        ("line", 1, True),
    ]
    line = cognite_client.data_modeling.instances.retrieve_nodes(NodeId(space, "line"), node_cls=CogniteAsset)
    assert line is not None
    assert (line.name, line.source_id, line.parent) == ("Line 1", "42", DirectRelationReference(space, "plant"))
    assets = cognite_client.data_modeling.instances.list(instance_type=CogniteAsset, space=space, limit=-1)
    assert sorted(a.external_id for a in assets) == ["line", "plant"]  # the source system has no CogniteAsset data
    assert fake_cdf.request_counts("POST", "/models/instances") == 1


def test_patch_keeps_unset_properties_and_replace_clears_them(cognite_client: CogniteClient, space: str) -> None:
    instances = cognite_client.data_modeling.instances
    instances.apply(CogniteAssetApply(space, "a", name="A", description="first"))
    patched = instances.apply(CogniteAssetApply(space, "a", name="B"), replace=False).nodes[0]
    node = instances.retrieve_nodes(NodeId(space, "a"), node_cls=CogniteAsset)
    assert (patched.version, node.name, node.description) == (2, "B", "first")  # type: ignore[union-attr]
    instances.apply(CogniteAssetApply(space, "a", name="C"), replace=True)
    node = instances.retrieve_nodes(NodeId(space, "a"), node_cls=CogniteAsset)
    assert (node.name, node.description) == ("C", None)  # type: ignore[union-attr]


def test_unchanged_reapply_is_not_a_modification(cognite_client: CogniteClient, space: str) -> None:
    cognite_client.data_modeling.instances.apply(_hierarchy(space))
    again = cognite_client.data_modeling.instances.apply(_hierarchy(space))
    assert [(n.version, n.was_modified) for n in again.nodes] == [(1, False), (1, False)]


def test_direct_relations_auto_create_empty_targets_or_fail(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, space: str
) -> None:
    activity = CogniteActivityApply(space, "job", name="J1", assets=[(space, "unknown-part")])
    with pytest.raises(CogniteAPIError) as refused:
        cognite_client.data_modeling.instances.apply(activity, auto_create_direct_relations=False)
    assert refused.value.code == 400
    assert fake_cdf.nodes() == {}
    cognite_client.data_modeling.instances.apply(activity, auto_create_direct_relations=True)
    assert fake_cdf.nodes()[(space, "unknown-part")]["views"] == []  # an empty node, in no view
    assert list(fake_cdf.nodes("CogniteAsset")) == []


def test_existing_version_mismatch_is_a_version_conflict(cognite_client: CogniteClient, space: str) -> None:
    instances = cognite_client.data_modeling.instances
    instances.apply(CogniteAssetApply(space, "a", name="A"))
    with pytest.raises(CogniteAPIError) as conflict:
        instances.apply(CogniteAssetApply(space, "a", name="B", existing_version=0))
    assert conflict.value.code == 400
    assert conflict.value.message == "A version conflict caused the ingest to fail."
    skipped = instances.apply(
        CogniteAssetApply(space, "a", name="B", existing_version=0), skip_on_version_conflict=True
    )
    assert skipped.nodes[0].was_modified is False
    instances.apply(CogniteAssetApply(space, "a", name="B", existing_version=1))
    assert instances.retrieve_nodes(NodeId(space, "a"), node_cls=CogniteAsset).name == "B"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("properties", "names"),
    [
        ({"nmae": "typo"}, "nmae"),
        ({"name": 42}, "name"),
        ({"parent": "not-a-reference"}, "parent"),
        ({"sourceCreatedTime": "yesterday"}, "sourceCreatedTime"),
        ({"root": {"space": "plex", "externalId": "x"}}, "read-only"),
    ],
)
def test_invalid_properties_are_a_400_and_nothing_is_written(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, space: str, properties: dict[str, object], names: str
) -> None:
    good = CogniteAssetApply(space, "good", name="Good")
    bad = NodeApply(space, "bad", sources=[NodeOrEdgeData(ASSET_VIEW, properties)])
    with pytest.raises(CogniteAPIError) as rejected:
        cognite_client.data_modeling.instances.apply([good, bad])
    assert rejected.value.code == 400
    assert names in rejected.value.message
    assert fake_cdf.nodes() == {}  # the request is atomic


def test_time_series_needs_its_required_properties(cognite_client: CogniteClient, space: str) -> None:
    view = ViewId("cdf_cdm", "CogniteTimeSeries", "v1")
    with pytest.raises(CogniteAPIError, match="isStep"):
        cognite_client.data_modeling.instances.apply(
            NodeApply(space, "ts", sources=[NodeOrEdgeData(view, {"type": "numeric"})])
        )
    with pytest.raises(CogniteAPIError, match="type"):
        cognite_client.data_modeling.instances.apply(
            NodeApply(space, "ts", sources=[NodeOrEdgeData(view, {"isStep": False, "type": "float"})])
        )


def test_unknown_space_and_view_are_refused(cognite_client: CogniteClient) -> None:
    with pytest.raises(CogniteAPIError, match="Space 'nowhere' does not exist"):
        cognite_client.data_modeling.instances.apply(CogniteAssetApply("nowhere", "a", name="A"))
    cognite_client.data_modeling.spaces.apply(SpaceApply("plex"))
    unknown = NodeApply("plex", "a", sources=[NodeOrEdgeData(ViewId("cdf_cdm", "CogniteAssett", "v1"), {})])
    with pytest.raises(CogniteAPIError, match="does not exist"):
        cognite_client.data_modeling.instances.apply(unknown)


def test_list_filters_on_space_and_view_and_pages(cognite_client: CogniteClient, space: str) -> None:
    cognite_client.data_modeling.spaces.apply(SpaceApply("other"))
    instances = cognite_client.data_modeling.instances
    instances.apply([CogniteAssetApply(space, f"a{i:03d}", name=f"A{i}") for i in range(25)])
    instances.apply([CogniteAssetApply("other", "elsewhere", name="X"), CogniteActivityApply(space, "act", name="J")])
    listed = instances.list(instance_type="node", space=space, sources=[ASSET_VIEW], limit=-1)
    assert len(listed) == 25
    assert listed[0].properties[ASSET_VIEW]["name"] == "A0"
    page = instances.list(instance_type="node", space=space, sources=[ASSET_VIEW], limit=10)
    assert len(page) == 10
    every_node = instances.list(instance_type="node", limit=-1)
    assert len(every_node) == 27
    activities = instances.list(instance_type=CogniteActivity, space=space, limit=-1)
    assert [a.external_id for a in activities] == ["act"]


def test_list_pages_with_cursor_on_the_wire(fake_cdf: FakeCDF, cognite_client: CogniteClient, space: str) -> None:
    cognite_client.data_modeling.instances.apply([CogniteAssetApply(space, f"a{i}", name="A") for i in range(5)])
    body = {"instanceType": "node", "limit": 2, "filter": {"hasData": [dict(ASSET_VIEW.dump(), type="view")]}}
    seen: list[str] = []
    while True:
        answer = api(fake_cdf, "POST", "/models/instances/list", body).json()
        seen += [item["externalId"] for item in answer["items"]]
        if not answer.get("nextCursor"):
            break
        body["cursor"] = answer["nextCursor"]
    assert sorted(seen) == [f"a{i}" for i in range(5)]


def test_delete_removes_nodes_and_their_datapoints(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, space: str
) -> None:
    instances = cognite_client.data_modeling.instances
    instances.apply(CogniteTimeSeriesApply(space, "ts", is_step=False, time_series_type="numeric", name="TS"))
    cognite_client.time_series.data.insert([(1000, 1.0)], instance_id=NodeId(space, "ts"))
    deleted = instances.delete(nodes=[NodeId(space, "ts"), NodeId(space, "never-there")])
    assert deleted.nodes == [NodeId(space, "ts")]
    assert fake_cdf.nodes() == {}
    assert fake_cdf.timeseries == []


async def test_datapoints_by_instance_id_with_the_async_client(
    fake_cdf: FakeCDF, async_cognite_client: AsyncCogniteClient, space: str
) -> None:
    node = CogniteTimeSeriesApply(space, "produced", is_step=False, time_series_type="numeric", name="Produced")
    await async_cognite_client.data_modeling.instances.apply(node)
    ts = NodeId(space, "produced")
    await async_cognite_client.time_series.data.insert([(1_000, 2.0), (2_000, 3.5)], instance_id=ts)
    points = await async_cognite_client.time_series.data.retrieve(instance_id=ts, start=0, end=10_000)
    assert list(points.timestamp) == [1_000, 2_000]  # type: ignore[union-attr]
    assert list(points.value) == [2.0, 3.5]  # type: ignore[union-attr]
    typed = await async_cognite_client.data_modeling.instances.retrieve_nodes(ts, node_cls=CogniteTimeSeries)
    assert typed is not None
    assert typed.time_series_type == "numeric"
    assert typed.is_step is False
    with pytest.raises(CogniteAPIError) as unknown:
        await async_cognite_client.time_series.data.insert([(1, 1.0)], instance_id=NodeId(space, "nope"))
    assert unknown.value.code == 400


def test_faults_apply_to_the_instance_routes(fake_cdf: FakeCDF, cognite_client: CogniteClient, space: str) -> None:
    fake_cdf.inject(Fault("status", status=429, method="POST", path=r"^/models/instances$", times=2))
    with fast_retries():
        cognite_client.data_modeling.instances.apply(_hierarchy(space))
    assert fake_cdf.request_counts("POST", "/models/instances") == 3
    fake_cdf.inject(Fault("commit_then_fail", status=500, method="POST", path=r"^/models/instances$", times=1))
    with pytest.raises(CogniteAPIError):
        cognite_client.data_modeling.instances.apply(CogniteAssetApply(space, "late", name="Late"))
    assert (space, "late") in fake_cdf.nodes()  # written, then answered 500


def test_nodes_survive_save_and_load(
    tmp_path: Path, cognite_client: CogniteClient, fake_cdf: FakeCDF, space: str
) -> None:
    cognite_client.data_modeling.instances.apply(
        [*_hierarchy(space), CogniteTimeSeriesApply(space, "ts", is_step=False, time_series_type="numeric")]
    )
    cognite_client.time_series.data.insert([(5, 1.0)], instance_id=NodeId(space, "ts"))
    fake_cdf.save(tmp_path / "state.json")
    with FakeCDF() as other:
        other.load(tmp_path / "state.json")
        client = other.cognite_client()
        assert client.data_modeling.spaces.retrieve(space) is not None
        assert client.data_modeling.instances.retrieve_nodes(NodeId(space, "line"), node_cls=CogniteAsset) is not None
        points = client.time_series.data.retrieve(instance_id=NodeId(space, "ts"), start=0, end=10)
        assert list(points.value) == [1.0]  # type: ignore[union-attr]


def test_timestamps_are_checked_and_kept(cognite_client: CogniteClient, space: str) -> None:
    start = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    cognite_client.data_modeling.instances.apply(CogniteActivityApply(space, "job", name="J", start_time=start))
    job = cognite_client.data_modeling.instances.retrieve_nodes(NodeId(space, "job"), node_cls=CogniteActivity)
    assert job is not None
    assert job.start_time == start


def test_at_most_1000_nodes_per_apply(fake_cdf: FakeCDF, space: str) -> None:
    node = {"instanceType": "node", "space": space, "sources": []}
    body = {"items": [{**node, "externalId": f"n{i}"} for i in range(1001)]}
    answer = api(fake_cdf, "POST", "/models/instances", body)
    assert answer.status_code == 400
    assert "between 1 and 1000" in answer.json()["error"]["message"]
    assert fake_cdf.nodes() == {}
