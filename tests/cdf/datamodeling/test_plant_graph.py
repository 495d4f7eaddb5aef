"""A whole simulated plant through the CDM mappings and sinks, compared with its expected node graph.

No extractor: the rows are parsed into Plex models, mapped to node items and written with `NodeSink` and
`InstanceDatapointsSink`; the result is read back through the real cognite-sdk with the typed CDM classes
(`ExpectedGraph.mismatches_in`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pydantic
import pytest
from cognite.client import AsyncCogniteClient

from plex_cognite.cdf.datamodeling import InstanceDatapointsSink, NodeItem, NodeSink
from plex_cognite.cdf.items import DatapointsItem
from plex_cognite.extractors._transforms import QuantitySums
from plex_cognite.extractors.node_mapping import (
    NodeContext,
    building_node,
    job_activity,
    part_node,
    parts_catalog_node,
    plant_node,
    plex_source_system,
    production_series_node,
    scrap_series_node,
    workcenter_node,
)
from plex_cognite.plex.models import Building, Job, Part, ProductionEntry, ScrapEntry, Workcenter
from plex_cognite.resilience import RetryPolicy
from plex_cognite.testing import Fault
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.plant import PlantSize, SimulatedPlant

FAST_RETRY = RetryPolicy(max_attempts=6, initial_wait_s=0.01, min_wait_s=0.01, max_wait_s=0.05, name="cdf-test")
PLANT = SimulatedPlant(seed=5, size=PlantSize(production_entries=600, scrap_entries=80))


def _valid(model: type[pydantic.BaseModel], rows: Iterable[dict[str, Any]]) -> list[Any]:
    out = []
    for row in rows:
        try:
            out.append(model.model_validate(row))
        except pydantic.ValidationError:
            continue  # a dead letter in a real run
    return out


def plant_nodes(plant: SimulatedPlant, ctx: NodeContext) -> list[NodeItem]:
    workcenters: list[Workcenter] = _valid(Workcenter, plant.workcenters())
    nodes: list[NodeItem] = [plex_source_system(ctx), plant_node(ctx), parts_catalog_node(ctx)]
    nodes += [building_node(b, ctx) for b in _valid(Building, plant.buildings())]
    nodes += [workcenter_node(wc, ctx) for wc in workcenters]
    nodes += [part_node(p, ctx) for p in _valid(Part, plant.parts())]
    nodes += [job_activity(job, ctx) for job in _valid(Job, plant.jobs())]
    nodes += [production_series_node(wc, ctx) for wc in workcenters]
    nodes += [scrap_series_node(wc, ctx) for wc in workcenters]
    return nodes


def plant_datapoints(plant: SimulatedPlant, ctx: NodeContext) -> list[DatapointsItem]:
    items: list[DatapointsItem] = []
    for model, rows, series in (
        (ProductionEntry, plant.production_entries(plant.start, plant.end), ctx.ids.production_series),
        (ScrapEntry, plant.scrap_entries(plant.start, plant.end), ctx.ids.scrap_series),
    ):
        sums = QuantitySums({wc["workcenterId"]: series(ctx.pcn, wc["workcenterId"]) for wc in plant.workcenters()})
        for entry in _valid(model, rows):
            sums.add(entry)
        items += sums.items()
    return items


async def write_plant(aclient: AsyncCogniteClient, plant: SimulatedPlant, ctx: NodeContext) -> None:
    nodes = await NodeSink(aclient, instance_space=ctx.space, retry=FAST_RETRY, batch_size=100).write(
        plant_nodes(plant, ctx)
    )
    assert nodes.ok, nodes.failed[:3]
    points = await InstanceDatapointsSink(aclient, instance_space=ctx.space, retry=FAST_RETRY).write(
        plant_datapoints(plant, ctx)
    )
    assert points.ok, points.failed[:3]


def assert_plant_graph(fake_cdf: FakeCDF, plant: SimulatedPlant, space: str) -> None:
    assert plant.expected_nodes().mismatches_in(fake_cdf.cognite_client(), space) == []


@pytest.mark.parametrize("space", ["plex", "plant_340884"])
async def test_the_plant_lands_as_the_expected_node_graph(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient, space: str
) -> None:
    ctx = NodeContext(pcn=PLANT.pcn, space=space)
    await write_plant(aclient, PLANT, ctx)
    assert_plant_graph(fake_cdf, PLANT, space)
    expected = PLANT.expected_nodes()
    assert expected.empty_nodes  # jobs on unknown parts are in the plant, and their parts exist as empty nodes
    assert len(fake_cdf.nodes()) == expected.node_count() + len(expected.empty_nodes)


async def test_faults_and_a_rerun_leave_the_same_graph(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    ctx = NodeContext(pcn=PLANT.pcn)
    fake_cdf.inject(Fault("status", status=429, method="POST", path="^/models/instances$", times=2))
    fake_cdf.inject(Fault("commit_then_fail", status=503, method="POST", path="^/models/instances$", times=2))
    fake_cdf.inject(Fault("status", status=502, method="POST", path="^/timeseries/data$", times=1))
    await write_plant(aclient, PLANT, ctx)
    fake_cdf.clear_faults()
    await write_plant(aclient, PLANT, ctx)
    assert_plant_graph(fake_cdf, PLANT, "plex")
    assert {node["version"] for node in fake_cdf.nodes().values()} == {1}  # nothing rewritten with a change


async def test_a_mutated_plant_updates_only_the_changed_nodes(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    ctx = NodeContext(pcn=PLANT.pcn)
    await write_plant(aclient, PLANT, ctx)
    mutated = PLANT.mutate(0.1)
    result = await NodeSink(aclient, retry=FAST_RETRY).write(plant_nodes(mutated, ctx))
    changed = {xid.rsplit("_", 1)[-1] for xid in result.updated}
    assert changed
    assert changed <= mutated.mutated_ids()
    assert_plant_graph(fake_cdf, mutated, "plex")
