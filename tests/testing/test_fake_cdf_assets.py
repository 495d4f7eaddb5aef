"""FakeCDF assets through the real cognite-sdk: hierarchy, limits, errors, list, update, delete."""

from __future__ import annotations

import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import AssetUpdate, AssetWrite, Label
from cognite.client.exceptions import CogniteAPIError, CogniteDuplicatedError, CogniteNotFoundError

from plex_cognite.testing.fake_cdf import FakeCDF
from tests.testing._support import api


def test_child_before_parent_in_one_request_resolves_parent_and_root(
    fake_cdf: FakeCDF, cognite_client: CogniteClient
) -> None:
    created = cognite_client.assets.create(
        [
            AssetWrite(external_id="wc1", name="WC 1", parent_external_id="line1"),
            AssetWrite(external_id="line1", name="Line 1", parent_external_id="plant"),
            AssetWrite(external_id="plant", name="Plant"),
        ]
    )
    wc1, line1, plant = created
    assert (wc1.parent_id, wc1.root_id, wc1.parent_external_id) == (line1.id, plant.id, "line1")
    assert (line1.parent_id, line1.root_id) == (plant.id, plant.id)
    assert plant.root_id == plant.id
    assert plant.parent_id is None
    assert len({wc1.id, line1.id, plant.id}) == 3
    assert fake_cdf.asset_by_xid("wc1")["rootId"] == plant.id  # type: ignore[index]


def test_parent_by_external_id_or_id_against_stored_assets(cognite_client: CogniteClient) -> None:
    plant = cognite_client.assets.create(AssetWrite(external_id="plant", name="Plant"))
    a, b = cognite_client.assets.create(
        [
            AssetWrite(external_id="a", name="A", parent_external_id="plant"),
            AssetWrite(external_id="b", name="B", parent_id=plant.id),
        ]
    )
    assert a.parent_id == b.parent_id == plant.id
    assert a.root_id == b.root_id == plant.id


def test_unknown_parent_is_400_missing_and_nothing_is_created(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    with pytest.raises(CogniteNotFoundError) as caught:
        cognite_client.assets.create(
            [
                AssetWrite(external_id="ok", name="OK"),
                AssetWrite(external_id="orphan", name="O", parent_external_id="nope"),
            ]
        )
    assert caught.value.code == 400
    assert caught.value.not_found == [{"externalId": "nope"}]
    assert fake_cdf.assets == []


def test_duplicate_external_ids_are_409_listing_them(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.assets.create(AssetWrite(external_id="a1", name="A1"))
    with pytest.raises(CogniteDuplicatedError) as caught:
        cognite_client.assets.create(
            [AssetWrite(external_id="a1", name="again"), AssetWrite(external_id="new", name="N")]
        )
    assert caught.value.code == 409
    assert caught.value.duplicated == [{"externalId": "a1"}]
    with pytest.raises(CogniteDuplicatedError) as in_request:
        cognite_client.assets.create([AssetWrite(external_id="x", name="X"), AssetWrite(external_id="x", name="X2")])
    assert in_request.value.duplicated == [{"externalId": "x"}]
    assert [a["externalId"] for a in fake_cdf.assets] == ["a1"]


def test_error_body_shapes_on_the_wire(fake_cdf: FakeCDF) -> None:
    api(fake_cdf, "POST", "/assets", {"items": [{"externalId": "a", "name": "A"}]})
    duplicated = api(fake_cdf, "POST", "/assets", {"items": [{"externalId": "a", "name": "A"}]})
    assert duplicated.status_code == 409
    assert duplicated.json() == {
        "error": {"code": 409, "message": "Duplicate external ids", "duplicated": [{"externalId": "a"}]}
    }
    missing = api(fake_cdf, "POST", "/assets", {"items": [{"externalId": "b", "name": "B", "parentExternalId": "zz"}]})
    assert missing.json()["error"]["missing"] == [{"externalId": "zz"}]
    assert "cdf-is-auto-retryable" not in missing.headers


def test_item_limits_are_400(fake_cdf: FakeCDF) -> None:
    too_many = [{"externalId": f"a{i}", "name": "A"} for i in range(1001)]
    response = api(fake_cdf, "POST", "/assets", {"items": too_many})
    assert response.status_code == 400
    assert "1000" in response.json()["error"]["message"]
    assert api(fake_cdf, "POST", "/assets/byids", {"items": [{"id": 1}] * 1001}).status_code == 400
    assert api(fake_cdf, "POST", "/assets", {"items": []}).status_code == 400
    assert fake_cdf.assets == []


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"externalId": "a"}, "name"),
        ({"externalId": "a", "name": "A", "metadata": {"n": 1}}, "metadata"),
        ({"externalId": "a", "name": "A", "unknownField": 1}, "unknownField"),
        ({"externalId": "a", "name": "A", "parentId": 1, "parentExternalId": "p"}, "only one"),
        ({"externalId": "a" * 256, "name": "A"}, "255"),
    ],
)
def test_invalid_assets_are_400(fake_cdf: FakeCDF, item: dict[str, object], fragment: str) -> None:
    response = api(fake_cdf, "POST", "/assets", {"items": [item]})
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_create_hierarchy_of_2500_assets(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    assets = [AssetWrite(external_id="root", name="root")]
    assets += [AssetWrite(external_id=f"l{i}", name=f"l{i}", parent_external_id="root") for i in range(50)]
    assets += [AssetWrite(external_id=f"w{i}", name=f"w{i}", parent_external_id=f"l{i % 50}") for i in range(2449)]
    cognite_client.assets.create_hierarchy(assets)
    stored = fake_cdf.assets
    assert len(stored) == 2500
    root_id = fake_cdf.asset_by_xid("root")["id"]  # type: ignore[index]
    assert {a["rootId"] for a in stored} == {root_id}
    assert fake_cdf.request_counts("POST", "/assets") >= 3


def test_retrieve_by_ids_with_and_without_ignore_unknown(cognite_client: CogniteClient) -> None:
    a = cognite_client.assets.create(AssetWrite(external_id="a", name="A"))
    found = cognite_client.assets.retrieve_multiple(ids=[a.id], external_ids=["nope"], ignore_unknown_ids=True)
    assert [x.external_id for x in found] == ["a"]
    assert cognite_client.assets.retrieve(external_id="nope") is None
    with pytest.raises(CogniteNotFoundError) as caught:
        cognite_client.assets.retrieve_multiple(external_ids=["a", "nope"])
    assert caught.value.not_found == [{"externalId": "nope"}]


def test_list_filters_and_cursor_paging(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    ds = fake_cdf.preload("datasets", [{"externalId": "ds", "name": "DS"}])[0]
    fake_cdf.preload(
        "assets", [{"externalId": "p1", "name": "P1", "source": "plex"}, {"externalId": "p2", "name": "P2"}]
    )
    children = [
        {
            "externalId": f"c{i:04d}",
            "name": "c",
            "parentExternalId": "p1" if i % 2 else "p2",
            "metadata": {"odd": str(i % 2)},
        }
        for i in range(2100)
    ]
    children[0]["dataSetId"] = ds["id"]
    fake_cdf.preload("assets", children)
    p1 = fake_cdf.asset_by_xid("p1")["id"]  # type: ignore[index]
    everything = cognite_client.assets.list(limit=None)
    assert len(everything) == 2102
    assert [a.id for a in everything] == sorted(a.id for a in everything)
    assert len(cognite_client.assets.list(parent_external_ids=["p1"], limit=None)) == 1050
    assert len(cognite_client.assets.list(parent_ids=[p1], limit=None)) == 1050
    by_root = api(fake_cdf, "POST", "/assets/list", {"filter": {"rootIds": [{"externalId": "p2"}]}, "limit": 1000})
    assert len(by_root.json()["items"]) == 1000
    assert by_root.json()["nextCursor"]
    assert len(cognite_client.assets.list(metadata={"odd": "1"}, limit=None)) == 1050
    assert [a.external_id for a in cognite_client.assets.list(source="plex")] == ["p1"]
    assert [a.external_id for a in cognite_client.assets.list(data_set_external_ids=["ds"])] == ["c0000"]
    assert len(cognite_client.assets.list(external_id_prefix="c00", limit=None)) == 100
    assert len(cognite_client.assets.list(root=True, limit=None)) == 2
    assert len(cognite_client.assets.list(asset_subtree_external_ids=["p1"], limit=None)) == 1051
    assert len(cognite_client.assets.list(partitions=3, limit=None)) == 2102
    assert fake_cdf.request_counts("POST", "/assets/list") > 3
    assert cognite_client.assets.aggregate_count() == 2102


def test_update_set_setnull_metadata_and_labels(cognite_client: CogniteClient) -> None:
    cognite_client.assets.create(
        AssetWrite(external_id="a", name="A", description="d", metadata={"k1": "v1", "k2": "v2"}, labels=[Label("x")])
    )
    updated = cognite_client.assets.update(
        AssetUpdate(external_id="a")
        .name.set("A2")
        .description.set(None)
        .metadata.add({"k3": "v3"})
        .metadata.remove(["k1"])
        .labels.add(["y"])
        .labels.remove(["x"])
    )
    assert updated.name == "A2"
    assert updated.description is None
    assert updated.metadata == {"k2": "v2", "k3": "v3"}
    assert [label.external_id for label in updated.labels or []] == ["y"]
    assert updated.last_updated_time >= updated.created_time
    replaced = cognite_client.assets.update(AssetUpdate(external_id="a").metadata.set({"only": "this"}))
    assert replaced.metadata == {"only": "this"}


def test_update_of_unknown_asset_is_400_missing(cognite_client: CogniteClient) -> None:
    with pytest.raises(CogniteNotFoundError) as caught:
        cognite_client.assets.update(AssetUpdate(external_id="ghost").name.set("G"))
    assert caught.value.not_found == [{"externalId": "ghost"}]


def test_change_of_parent_moves_the_subtree_to_a_new_root(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.preload(
        "assets",
        [
            {"externalId": "r1", "name": "r1"},
            {"externalId": "r2", "name": "r2"},
            {"externalId": "mid", "name": "mid", "parentExternalId": "r1"},
            {"externalId": "leaf", "name": "leaf", "parentExternalId": "mid"},
        ],
    )
    moved = cognite_client.assets.update(AssetUpdate(external_id="mid").parent_external_id.set("r2"))
    r2 = fake_cdf.asset_by_xid("r2")["id"]  # type: ignore[index]
    assert moved.parent_id == r2
    assert moved.root_id == r2
    assert fake_cdf.asset_by_xid("leaf")["rootId"] == r2  # type: ignore[index]
    assert [a.external_id for a in cognite_client.assets.list(parent_external_ids=["r1"])] == []
    with pytest.raises(CogniteAPIError) as cycle:
        cognite_client.assets.update(AssetUpdate(external_id="mid").parent_external_id.set("leaf"))
    assert cycle.value.code == 400
    assert fake_cdf.asset_by_xid("mid")["parentExternalId"] == "r2"  # type: ignore[index]


def test_upsert_creates_missing_and_updates_existing(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.assets.create(AssetWrite(external_id="a", name="old"))
    result = cognite_client.assets.upsert(
        [AssetWrite(external_id="a", name="new"), AssetWrite(external_id="b", name="B")]
    )
    assert [a.name for a in result] == ["new", "B"]
    assert {a["externalId"]: a["name"] for a in fake_cdf.assets} == {"a": "new", "b": "B"}


def test_delete_refuses_parents_unless_recursive(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.preload(
        "assets",
        [
            {"externalId": "p", "name": "p"},
            {"externalId": "c", "name": "c", "parentExternalId": "p"},
            {"externalId": "x", "name": "x"},
        ],
    )
    with pytest.raises(CogniteAPIError) as caught:
        cognite_client.assets.delete(external_id="p")
    assert caught.value.code == 400
    cognite_client.assets.delete(external_id="p", recursive=True)
    assert [a["externalId"] for a in fake_cdf.assets] == ["x"]
    with pytest.raises(CogniteNotFoundError):
        cognite_client.assets.delete(external_id="p")
    cognite_client.assets.delete(external_id="p", ignore_unknown_ids=True)
