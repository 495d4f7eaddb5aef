"""`cdf.sink: datamodeling | both` end to end: the plant lands as exactly the expected Core Data Model node graph.

Both fakes over real HTTP; the graph is read back through the real cognite-sdk with its typed CDM classes and the
datapoints by instance id (`ExpectedGraph.mismatches_in`, which `verify_cdf` uses when nodes are written).
"""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from pathlib import Path
from typing import ClassVar

from cognite.client.data_classes.data_modeling import NodeId
from cognite.client.data_classes.data_modeling.cdm.v1 import CogniteActivity, CogniteAsset, CogniteTimeSeries

from plex_cognite.cdf.datamodeling import ActivityNode
from plex_cognite.cdf.items import EventItem
from plex_cognite.errors import RecordValidationError
from plex_cognite.extractors import JobsExtractor, MappingContext, MasterDataExtractor, job_event
from plex_cognite.plex.models import Job
from plex_cognite.replay import replay_dead_letters
from plex_cognite.runner import run_extractors
from plex_cognite.testing._faults import Fault
from plex_cognite.testing._node_reader import read_node_graph
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import ExpectedGraph, SimulatedPlant

from .conftest import mismatches, run, settings_for, write_requests

SPACE = "plex"


def node_applies(cdf: FakeCDF) -> list[int]:
    """The node count of every `models/instances` apply request CDF answered."""
    return [r.items or 0 for r in cdf.request_log if r.method == "POST" and r.path == "/models/instances"]


def changed_nodes(before: ExpectedGraph, after: ExpectedGraph) -> set[str]:
    """External ids of the expected nodes whose compared properties differ between two plant revisions."""
    return {
        xid
        for view, nodes in after.nodes.items()
        for xid, node in nodes.items()
        if before.nodes.get(view, {}).get(xid) != node
    }


async def test_datamodeling_run_lands_the_plant_as_the_expected_graph(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    report = await run(plex, cdf, plant, tmp_path, sink="datamodeling")

    assert report.ok, report.format_table()
    assert mismatches(cdf, plant, tmp_path, plex, sink="datamodeling") == []  # graph, relations, datapoints
    expected = plant.expected_nodes()
    graph, empty = read_node_graph(cdf.cognite_client(), SPACE)
    assert {view: len(nodes) for view, nodes in graph.items()} == {
        view: len(expected.nodes.get(view, {})) for view in graph
    }
    assert empty == expected.empty_nodes != set()  # jobs on parts Plex does not list point at empty part nodes
    # No classic resource: only spaces, nodes and datapoints by instance id were written.
    assert {path.split()[1] for path in write_requests(cdf)} == {
        "/models/spaces",
        "/models/instances",
        "/timeseries/data",
    }
    assert cdf.assets == cdf.events == []
    written = {r.stream: r for r in report.streams}
    assert written["workcenter_status"].read == written["workcenter_status"].written == 0
    assert written["jobs"].deferred == 0  # nothing held: CDF creates the missing part nodes empty
    assert report.total("datapoints") == expected_points(expected)


def expected_points(expected: ExpectedGraph) -> int:
    return sum(len(points) for points in expected.datapoints.values())


async def test_the_graph_reads_back_through_the_typed_cdm_classes(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path, sink="datamodeling")).ok
    client = cdf.cognite_client()
    expected = plant.expected_nodes()
    part_xid = next(xid for xid in expected.nodes["CogniteAsset"] if "_PART_" in xid)

    part = client.data_modeling.instances.retrieve_nodes(NodeId(SPACE, part_xid), node_cls=CogniteAsset)
    assert part is not None
    assert part.parent is not None
    assert part.source is not None
    assert part.parent.as_tuple() == (SPACE, f"PCN{plant.pcn}_PARTS")
    assert part.source.as_tuple() == (SPACE, "plex")
    jobs = client.data_modeling.instances.list(instance_type=CogniteActivity, space=SPACE, limit=-1)
    on_part = [job for job in jobs if (SPACE, part_xid) in {asset.as_tuple() for asset in job.assets or []}]
    assert {job.external_id for job in on_part} == {
        xid for xid, node in expected.nodes["CogniteActivity"].items() if part_xid in node.properties["assets"]
    }
    series = client.data_modeling.instances.list(instance_type=CogniteTimeSeries, space=SPACE, limit=-1)
    produced = next(s for s in series if s.external_id.endswith("_PRODUCED_QTY") and expected.datapoints[s.external_id])
    points = client.time_series.data.retrieve(instance_id=produced.as_id(), start=0, end="now", limit=None)
    assert points is not None
    assert dict(zip(points.timestamp, points.value, strict=True)) == expected.datapoints[produced.external_id]


async def test_a_datamodeling_rerun_applies_nothing(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path, sink="datamodeling")).ok
    assert node_applies(cdf)
    cdf.reset_request_log()

    again = await run(plex, cdf, plant, tmp_path, sink="datamodeling")

    assert again.ok, again.format_table()
    assert node_applies(cdf) == []
    assert write_requests(cdf) == []
    assert again.total("written") == again.total("requests") == 0
    assert mismatches(cdf, plant, tmp_path, plex, sink="datamodeling") == []


async def test_after_a_mutation_only_changed_nodes_are_applied(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path, sink="datamodeling")).ok
    versions = {xid: node["version"] for (_, xid), node in cdf.nodes().items()}
    changed_plant = plant.mutate(0.1)
    plex.set_plant(changed_plant)
    cdf.reset_request_log()

    report = await run(plex, cdf, changed_plant, tmp_path, sink="datamodeling")

    assert report.ok, report.format_table()
    assert mismatches(cdf, changed_plant, tmp_path, plex, sink="datamodeling") == []
    updated = {xid for (_, xid), node in cdf.nodes().items() if node["version"] > versions.get(xid, 0)}
    must_change = changed_nodes(plant.expected_nodes(), changed_plant.expected_nodes())
    assert must_change
    assert must_change <= updated
    mutated = changed_plant.mutated_ids()
    # A node changes only for a changed record: its own Plex id, or the workcenter its series belong to.
    assert all(any(plex_id in xid for plex_id in mutated) for xid in updated)
    assert sum(node_applies(cdf)) == len(updated) == report.total("written")  # no unchanged node sent again
    # Only node applies (and the idempotent check that the instance space exists): no datapoints written again.
    paths = {path.split()[1] for path in write_requests(cdf)}
    assert "/models/instances" in paths
    assert paths <= {"/models/spaces", "/models/instances"}


async def test_faults_on_node_and_datapoint_writes_leave_the_same_graph(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    for fault in (
        Fault("status", status=429, retry_after="0.05", method="POST", path=r"^/models/instances$", times=2),
        Fault("status", status=503, method="POST", path=r"^/models/instances$", times=2),
        Fault("commit_then_fail", method="POST", path=r"^/models/instances$", times=2),
        Fault("status", status=502, method="POST", path=r"^/timeseries/data$", times=1),
        Fault("commit_then_fail", method="POST", path=r"^/timeseries/data$", times=2),
    ):
        cdf.inject(fault)

    report = await run(plex, cdf, plant, tmp_path, sink="datamodeling")

    assert report.ok, report.format_table()
    assert len([r for r in cdf.request_log if r.fault is not None]) == 9  # every fault fired
    assert mismatches(cdf, plant, tmp_path, plex, sink="datamodeling") == []
    cdf.clear_faults()
    cdf.reset_request_log()
    again = await run(plex, cdf, plant, tmp_path, sink="datamodeling")
    assert again.ok
    assert write_requests(cdf) == []


async def test_the_classic_sink_writes_no_node(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path)).ok
    assert cdf.nodes() == {}
    assert not any(r.path.startswith("/models") for r in cdf.request_log)


async def test_sink_both_writes_the_classic_resources_and_the_nodes_in_one_run(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    report = await run(plex, cdf, plant, tmp_path, sink="both")

    assert report.ok, report.format_table()
    assert mismatches(cdf, plant, tmp_path, plex, sink="both") == []  # classic content and node graph, both exact
    classic, graph = plant.expected_cdf(), plant.expected_nodes()
    assert report.total("datapoints") == classic.datapoint_count() + expected_points(graph)
    assert len(cdf.assets) == len(classic.assets)
    assert len(cdf.nodes("CogniteAsset")) == len(graph.nodes["CogniteAsset"])
    # Classic jobs whose part is unknown are held; their activities land, pointing at empty part nodes.
    jobs = next(r for r in report.streams if r.stream == "jobs")
    assert jobs.deferred == sum(1 for xid in classic.deferred if "_JOB_" in xid) > 0
    cdf.reset_request_log()
    again = await run(plex, cdf, plant, tmp_path, sink="both")
    assert again.ok
    assert write_requests(cdf) == []


class OneBadActivity(JobsExtractor):
    """Jobs whose activity for one job has a start time CDF refuses."""

    bad_job: ClassVar[str] = ""

    def transform_activity(self, job: Job, event: EventItem) -> ActivityNode:
        node = super().transform_activity(job, event)
        return dataclasses.replace(node, start_time="not a time") if job.id == self.bad_job else node


async def test_a_node_cdf_rejects_is_dead_lettered_and_the_rest_lands(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    expected = plant.expected_nodes().nodes["CogniteActivity"]
    bad = sorted(expected)[0]
    OneBadActivity.bad_job = expected[bad].properties["sourceId"]
    settings = settings_for(plex, cdf, plant, tmp_path, sink="datamodeling")

    async with OneBadActivity.from_settings(settings, pcn=plant.pcn) as jobs:
        report = await jobs.run()

    assert report.ok
    landed = {xid for _, xid in cdf.nodes("CogniteActivity")}
    assert landed == set(expected) - {bad}
    letters = [json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()]
    rejected = [letter for letter in letters if letter["error_type"] == "ItemRejected"]
    assert [letter["payload"]["key"] for letter in rejected] == [bad]
    assert "startTime" in rejected[0]["reason"]
    assert report.dead_lettered == len(letters)

    cdf.reset_request_log()
    async with OneBadActivity.from_settings(settings, pcn=plant.pcn) as again:
        assert (await again.run()).ok
    assert node_applies(cdf) == []  # the rejected node is not sent again until its job changes


async def test_a_replayed_job_letter_lands_as_event_and_activity_with_sink_both(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    activities = plant.expected_nodes().nodes["CogniteActivity"]
    held_back = next(xid for xid in sorted(activities) if xid in plant.expected_cdf().events)
    job_id = activities[held_back].properties["sourceId"]

    def rejecting(job: Job, ctx: MappingContext) -> EventItem:
        if job.id == job_id:
            raise RecordValidationError("held back by the test's mapping")
        return job_event(job, ctx)

    settings = settings_for(plex, cdf, plant, tmp_path, sink="both")
    report = await run_extractors(
        settings, extractors=[MasterDataExtractor, partial(JobsExtractor, transform=rejecting)]
    )
    assert report.ok, report.format_table()
    assert ("plex", held_back) not in cdf.nodes()
    assert cdf.event_by_xid(held_back) is None

    replay = await replay_dead_letters(settings, streams=["jobs"], extractors=[JobsExtractor])

    assert replay.replayed == 1
    assert ("plex", held_back) in cdf.nodes("CogniteActivity")
    assert cdf.event_by_xid(held_back) is not None
    assert mismatches(cdf, plant, tmp_path, plex, sink="both", streams=["master_data", "jobs"]) == []
