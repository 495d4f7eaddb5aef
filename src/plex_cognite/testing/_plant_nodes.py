"""The Core Data Model mapping as the simulated plant's oracle: raw Plex rows -> the expected node graph.

The nodes live in one instance space; their external ids are the classic ones (see `_plant_expected`). Compared
properties per view (direct relations by target external id, lists of relations as sets, times as epoch ms):

CogniteSourceSystem: the node `plex`, name `Plex`.

CogniteAsset (name, description, parent, sourceId, source): plant `PCN {pcn}` (sourceId the PCN, no parent);
    building (`buildingCode`, description `name`, parent the plant, sourceId `id`); workcenter (`workcenterCode`,
    description `name`, parent its building when `buildingId` is set, else the plant, sourceId `workcenterId`); parts
    catalog (`Parts`, parent the plant, no sourceId); part (`{number}-{revision}`, or `number` when the revision is
    empty, description `name`, parent the parts catalog, sourceId `id`). Every node's `source` is `plex`.

CogniteActivity, one per valid job (name, description, startTime, endTime, scheduledStartTime, scheduledEndTime,
    assets, sourceId, source): name `jobNumber` (the id when it has none), description `Job {jobNumber}`, startTime
    `earliestStartDateTime` else `createdDate`, endTime `completedDate`, scheduledStartTime `earliestStartDateTime`,
    scheduledEndTime `dueDate`, assets the part (when `partId` is set) and the building (when `buildingId` is set),
    sourceId the job id.

CogniteTimeSeries, two per workcenter when the `production` / `scrap` streams run (type, isStep, assets, sourceId,
    source): type `numeric`, isStep false, assets the workcenter, sourceId `workcenterId`. Datapoints as in the classic
    expectation, by the series node's external id.

Unknown references: a job whose part is not in the plant is NOT held back as in the classic sink: the activity lands
with its `assets` relation, and CDF (with `autoCreateDirectRelations`) creates an empty node for the missing part, in no
view. Those external ids are `empty_nodes`; if the part shows up later, its node is filled in and the relation already
points at it. Rows a correct extraction rejects map to no node (the classic dead letters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plex_cognite.testing._plant_expected import ALL_STREAMS, build_expected, dead_letter_reason, plex_ms
from plex_cognite.testing._plant_time import to_ms

if TYPE_CHECKING:
    from cognite.client import CogniteClient

    from plex_cognite.testing.plant import SimulatedPlant

__all__ = ["ExpectedGraph", "ExpectedNode", "build_expected_graph", "comparable"]

SOURCE_SYSTEM = "plex"
_TIMES = frozenset({"startTime", "endTime", "scheduledStartTime", "scheduledEndTime"})
COMPARED: dict[str, tuple[str, ...]] = {
    "CogniteSourceSystem": ("name",),
    "CogniteAsset": ("name", "description", "parent", "sourceId", "source"),
    "CogniteActivity": (
        "name",
        "description",
        "startTime",
        "endTime",
        "scheduledStartTime",
        "scheduledEndTime",
        "assets",
        "sourceId",
        "source",
    ),
    "CogniteTimeSeries": ("type", "isStep", "assets", "sourceId", "source"),
}
"""The properties compared per view."""


@dataclass(frozen=True)
class ExpectedNode:
    """A node a full extraction must leave in CDF: its view and the compared properties (see `comparable`)."""

    external_id: str
    view: str
    properties: Mapping[str, Any]


@dataclass
class ExpectedGraph:
    """The node graph a full extraction of one simulated plant writes with `cdf.sink: datamodeling`.

    Attributes:
        pcns: The PCNs covered; only nodes whose external id starts with `PCN{pcn}_` (and the source system) count.
        nodes: By view, then by external id.
        empty_nodes: External ids of relation targets that do not exist in Plex (CDF auto-creates them empty).
        datapoints: Series node external id -> {timestamp ms: value}.
    """

    pcns: frozenset[str]
    nodes: dict[str, dict[str, ExpectedNode]] = field(default_factory=dict)
    empty_nodes: set[str] = field(default_factory=set)
    datapoints: dict[str, dict[int, float]] = field(default_factory=dict)

    def add(self, external_id: str, view: str, **properties: Any) -> None:
        """Expect a node (properties already in comparable form)."""
        self.nodes.setdefault(view, {})[external_id] = ExpectedNode(external_id, view, properties)

    def node_count(self) -> int:
        """How many nodes with data are expected (empty nodes not counted)."""
        return sum(len(nodes) for nodes in self.nodes.values())

    def _ours(self, external_id: str) -> bool:
        return external_id == SOURCE_SYSTEM or any(external_id.startswith(f"PCN{pcn}_") for pcn in self.pcns)

    def mismatches(
        self,
        actual: Mapping[str, Mapping[str, Mapping[str, Any]]],
        *,
        empty_nodes: Iterable[str] | None = None,
        datapoints: Mapping[str, Sequence[tuple[int, float]]] | None = None,
    ) -> list[str]:
        """Compare CDF's nodes with this expectation.

        Args:
            actual: View name -> node external id -> the properties CDF returns through that view (direct relations
                as `{"space", "externalId"}` or the SDK's references, times as ISO text or datetimes).
            empty_nodes: External ids of the nodes in CDF with data in no view; None skips that comparison.
            datapoints: Series node external id -> `(timestamp ms, value)` pairs; None skips it.

        Returns:
            One readable line per difference; empty when CDF matches.
        """
        problems: list[str] = []
        for view in sorted(self.nodes.keys() | actual.keys()):
            expected = self.nodes.get(view, {})
            found = {
                xid: ExpectedNode(xid, view, comparable(view, props))
                for xid, props in actual.get(view, {}).items()
                if self._ours(xid)
            }
            problems += _compare(view, expected, found)
        if empty_nodes is not None:
            empty = {xid for xid in empty_nodes if self._ours(xid)}
            problems += [f"missing empty node {xid}" for xid in sorted(self.empty_nodes - empty)]
            problems += [f"unexpected empty node {xid}" for xid in sorted(empty - self.empty_nodes)]
        if datapoints is not None:
            actual_points = {xid: dict(points) for xid, points in datapoints.items() if points and self._ours(xid)}
            expected_points = {xid: points for xid, points in self.datapoints.items() if points}
            problems += _compare("datapoints of", expected_points, actual_points)
        return problems

    def mismatches_in(self, client: CogniteClient, space: str) -> list[str]:
        """Read `space` through the cognite-sdk (typed CDM classes, datapoints by instance id) and compare it.

        Args:
            client: A cognite-sdk client (`FakeCDF.cognite_client()`, or one for a real project).
            space: The instance space the extraction wrote.

        Returns:
            As `mismatches`, nodes, empty nodes and datapoints compared.
        """
        from plex_cognite.testing._node_reader import read_node_datapoints, read_node_graph

        graph, empty = read_node_graph(client, space)
        series = [xid for xid in graph.get("CogniteTimeSeries", {}) if self._ours(xid)]
        return self.mismatches(graph, empty_nodes=empty, datapoints=read_node_datapoints(client, space, series))


def comparable(view: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The compared properties of a node in normal form.

    Relations become target external ids, relation lists frozensets of them, times epoch ms; unset properties None.
    """
    out: dict[str, Any] = {}
    for name in COMPARED[view]:
        value = properties.get(name)
        if name in _TIMES and value is not None:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            value = to_ms(moment)
        elif isinstance(value, list | tuple):
            value = frozenset(_target(v) for v in value)
        elif name in ("parent", "source") and value is not None:
            value = _target(value)
        out[name] = value
    return out


def _target(reference: Any) -> str:
    if isinstance(reference, Mapping):
        return str(reference["externalId"])
    return str(getattr(reference, "external_id", reference))


def _compare(kind: str, expected: Mapping[str, object], actual: Mapping[str, object], limit: int = 50) -> list[str]:
    problems = [f"missing {kind} {xid}" for xid in sorted(expected.keys() - actual.keys())]
    problems += [f"unexpected {kind} {xid}" for xid in sorted(actual.keys() - expected.keys())]
    for xid in sorted(expected.keys() & actual.keys()):
        if expected[xid] != actual[xid]:
            problems.append(f"{kind} {xid} differs: expected {expected[xid]!r}, got {actual[xid]!r}")
    if len(problems) > limit:
        problems = [*problems[:limit], f"... and {len(problems) - limit} more {kind} differences"]
    return problems


def _ms(text: str | None) -> int | None:
    return None if text is None else plex_ms(text)


def build_expected_graph(
    plant: SimulatedPlant, start: datetime | None, end: datetime | None, streams: Sequence[str] = ALL_STREAMS
) -> ExpectedGraph:
    """Apply the rules of this module to every raw row of `plant` (see `SimulatedPlant.expected_nodes`)."""
    pcn, prefix = plant.pcn, f"PCN{plant.pcn}"
    graph = ExpectedGraph(pcns=frozenset({pcn}))
    plant_xid, parts_xid = f"{prefix}_PLANT", f"{prefix}_PARTS"

    def asset(xid: str, name: str, description: str | None, parent: str | None, source_id: str | None) -> None:
        graph.add(
            xid,
            "CogniteAsset",
            name=name,
            description=description,
            parent=parent,
            sourceId=source_id,
            source=SOURCE_SYSTEM,
        )

    graph.add(SOURCE_SYSTEM, "CogniteSourceSystem", name="Plex")
    if "master_data" in streams:
        asset(plant_xid, f"PCN {pcn}", None, None, pcn)
        for b in plant.buildings():
            asset(f"{prefix}_BLDG_{b['id']}", b["buildingCode"], b.get("name"), plant_xid, b["id"])
        for wc in plant.workcenters():
            parent = f"{prefix}_BLDG_{wc['buildingId']}" if wc.get("buildingId") else plant_xid
            wc_id = wc["workcenterId"]
            asset(f"{prefix}_WC_{wc_id}", wc["workcenterCode"], wc.get("name"), parent, wc_id)
        asset(parts_xid, "Parts", None, plant_xid, None)
        for part in plant.parts():
            name = f"{part['number']}-{part['revision']}" if part.get("revision") else part["number"]
            asset(f"{prefix}_PART_{part['id']}", name, part.get("name"), parts_xid, part["id"])
    assets = set(graph.nodes.get("CogniteAsset", {}))
    if "jobs" in streams:
        for job in plant.jobs():
            if dead_letter_reason("jobs", job) is not None:
                continue
            links = set()
            if job.get("partId"):
                links.add(f"{prefix}_PART_{job['partId']}")
            if job.get("buildingId"):
                links.add(f"{prefix}_BLDG_{job['buildingId']}")
            graph.empty_nodes.update(links - assets)
            number = job.get("jobNumber")
            graph.add(
                f"{prefix}_JOB_{job['id']}",
                "CogniteActivity",
                name=number or job["id"],
                description=f"Job {number}" if number else None,
                startTime=_ms(job.get("earliestStartDateTime") or job.get("createdDate")),
                endTime=_ms(job.get("completedDate")),
                scheduledStartTime=_ms(job.get("earliestStartDateTime")),
                scheduledEndTime=_ms(job.get("dueDate")),
                assets=frozenset(links),
                sourceId=job["id"],
                source=SOURCE_SYSTEM,
            )
    classic = build_expected(plant, start, end, streams, "skip_link")
    for xid, series in classic.timeseries.items():
        wc_id = series.asset_external_id.removeprefix(f"{prefix}_WC_")
        graph.add(
            xid,
            "CogniteTimeSeries",
            type="numeric",
            isStep=False,
            assets=frozenset({series.asset_external_id}),
            sourceId=wc_id,
            source=SOURCE_SYSTEM,
        )
        if "master_data" not in streams:
            graph.empty_nodes.add(series.asset_external_id)
    graph.datapoints = {xid: dict(points) for xid, points in classic.datapoints.items()}
    return graph
