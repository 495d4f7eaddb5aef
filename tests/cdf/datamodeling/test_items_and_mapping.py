"""Node items (the KeyedItem contract, the SDK's typed classes) and the pure Plex -> node mappings."""

from __future__ import annotations

import pytest

from plex_cognite.cdf.datamodeling import ActivityNode, AssetNode, SourceSystemNode, TimeSeriesNode, node_from_json
from plex_cognite.cdf.datamodeling.items import NodeItem
from plex_cognite.extractors.node_mapping import (
    NodeContext,
    building_node,
    iso_utc,
    job_activity,
    part_node,
    parts_catalog_node,
    plant_node,
    plex_source_system,
    production_series_node,
    scrap_series_node,
    workcenter_node,
)
from plex_cognite.plex.models import Building, Job, Part, Workcenter

CTX = NodeContext(pcn="340884")
ITEMS: list[NodeItem] = [
    SourceSystemNode("plex", name="Plex", manufacturer="Rockwell Automation"),
    AssetNode("PCN340884_PLANT", name="PCN 340884", source_id="340884"),
    AssetNode("PCN340884_WC_1", name="WC1", parent="PCN340884_PLANT", description="Press", source_context="PCN 1"),
    ActivityNode(
        "PCN340884_JOB_9",
        name="J-9",
        start_time="2025-01-02T03:04:05.000+00:00",
        scheduled_end_time="2025-01-05T00:00:00.000+00:00",
        assets=("PCN340884_PART_1", "PCN340884_BLDG_2"),
    ),
    TimeSeriesNode("PCN340884_WC_1_PRODUCED_QTY", name="WC1 produced quantity", assets=("PCN340884_WC_1",)),
]


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: type(item).__name__)
def test_json_round_trip_and_stable_hash(item: NodeItem) -> None:
    again = type(item).from_json(item.to_json())
    assert again == item
    assert node_from_json(item.to_json()) == item
    assert again.content_hash() == item.content_hash()
    assert item.key == item.external_id


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: type(item).__name__)
def test_the_typed_sdk_class_sends_the_same_node(item: NodeItem) -> None:
    dumped = item.to_apply().dump(camel_case=True)
    mine = item.node_json()
    assert (dumped["space"], dumped["externalId"], dumped["instanceType"]) == (item.space, item.key, "node")
    (source,) = dumped["sources"]
    assert source["source"] == mine["sources"][0]["source"]  # type: ignore[index]
    assert source["properties"] == mine["sources"][0]["properties"]  # type: ignore[index]


def test_the_hash_follows_what_is_written() -> None:
    base = AssetNode("a", name="A", parent="p")
    assert AssetNode("a", name="A", parent="p").content_hash() == base.content_hash()
    assert AssetNode("a", name="B", parent="p").content_hash() != base.content_hash()
    assert AssetNode("a", name="A", parent="q").content_hash() != base.content_hash()
    assert AssetNode("a", space="other", name="A", parent="p").content_hash() != base.content_hash()


def test_unset_properties_are_left_out_so_apply_patches() -> None:
    assert AssetNode("a", name="A", source=None).properties() == {"name": "A"}


def test_from_json_refuses_another_view() -> None:
    with pytest.raises(ValueError, match="AssetNode"):
        AssetNode.from_json(ITEMS[0].to_json())
    with pytest.raises(ValueError, match="node item"):
        node_from_json({"view": "CogniteFile"})


def test_master_data_nodes_keep_the_classic_ids_names_and_parents() -> None:
    building = Building.model_validate({"id": "b1", "buildingCode": "B1", "name": "Main building"})
    workcenter = Workcenter.model_validate({"workcenterId": "w1", "workcenterCode": "PRESS-1", "buildingId": "b1"})
    part = Part.model_validate({"id": "p1", "number": "100", "revision": "A", "name": "Bracket"})
    assert plant_node(CTX) == AssetNode(
        "PCN340884_PLANT", name="PCN 340884", source_id="340884", source_context="PCN 340884"
    )
    assert parts_catalog_node(CTX).parent == "PCN340884_PLANT"
    assert building_node(building, CTX) == AssetNode(
        "PCN340884_BLDG_b1",
        name="B1",
        description="Main building",
        parent="PCN340884_PLANT",
        source_id="b1",
        source_context="PCN 340884",
    )
    assert workcenter_node(workcenter, CTX).parent == "PCN340884_BLDG_b1"
    assert (part_node(part, CTX).name, part_node(part, CTX).parent) == ("100-A", "PCN340884_PARTS")


def test_a_job_becomes_an_activity_on_its_part_and_building() -> None:
    job = Job.model_validate(
        {
            "id": "j1",
            "jobNumber": "J-1",
            "partId": "p1",
            "buildingId": "b1",
            "createdDate": "2025-01-01T08:00:00Z",
            "earliestStartDateTime": "2025-01-02T06:30:00.1234567Z",
            "dueDate": "2025-01-09T00:00:00Z",
            "completedDate": "2025-01-03T17:00:00Z",
            "jobStatus": "Complete",
        }
    )
    activity = job_activity(job, CTX)
    assert activity == ActivityNode(
        "PCN340884_JOB_j1",
        name="J-1",
        description="Job J-1",
        start_time="2025-01-02T06:30:00.123+00:00",
        end_time="2025-01-03T17:00:00.000+00:00",
        scheduled_start_time="2025-01-02T06:30:00.123+00:00",
        scheduled_end_time="2025-01-09T00:00:00.000+00:00",
        assets=("PCN340884_PART_p1", "PCN340884_BLDG_b1"),
        source_id="j1",
        source_context="PCN 340884",
    )


def test_an_open_job_without_start_dates_has_no_times() -> None:
    activity = job_activity(Job.model_validate({"id": "j2"}), CTX)
    assert (activity.name, activity.start_time, activity.end_time, activity.assets) == ("j2", None, None, ())
    started = job_activity(Job.model_validate({"id": "j3", "createdDate": "2025-01-01T00:00:00Z"}), CTX)
    assert started.start_time == "2025-01-01T00:00:00.000+00:00"


def test_quantity_series_nodes_belong_to_their_workcenter() -> None:
    workcenter = Workcenter.model_validate({"workcenterId": "w1", "workcenterCode": "PRESS-1"})
    produced, scrap = production_series_node(workcenter, CTX), scrap_series_node(workcenter, CTX)
    assert (produced.external_id, scrap.external_id) == ("PCN340884_WC_w1_PRODUCED_QTY", "PCN340884_WC_w1_SCRAP_QTY")
    assert (produced.type, produced.is_step, produced.assets, produced.source) == (
        "numeric",
        False,
        ("PCN340884_WC_w1",),
        "plex",
    )


def test_the_space_and_source_system_come_from_the_context() -> None:
    ctx = NodeContext(pcn="1", space="plant_a", source_system="plex_prod")
    assert plex_source_system(ctx).space == "plant_a"
    node = plant_node(ctx)
    assert (node.space, node.properties()["source"]) == ("plant_a", {"space": "plant_a", "externalId": "plex_prod"})


def test_iso_utc_has_milliseconds_and_an_offset() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00.000+00:00"
    assert iso_utc(1_735_787_045_123) == "2025-01-02T03:04:05.123+00:00"
