"""SimulatedPlant.expected_nodes: the expected Core Data Model graph, and how it reports differences."""

from __future__ import annotations

from typing import Any

from plex_cognite.testing.plant import ExpectedGraph, SimulatedPlant

PLANT = SimulatedPlant(seed=5)


def _as_cdf(graph: ExpectedGraph) -> dict[str, dict[str, dict[str, Any]]]:
    """The expectation rendered the way CDF returns properties (relations as references, times as ISO text)."""
    from plex_cognite.extractors.node_mapping import iso_utc

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for view, nodes in graph.nodes.items():
        for xid, node in nodes.items():
            props: dict[str, Any] = {}
            for name, value in node.properties.items():
                if isinstance(value, frozenset):
                    value = [{"space": "plex", "externalId": target} for target in sorted(value)]
                elif name in ("parent", "source") and value is not None:
                    value = {"space": "plex", "externalId": value}
                elif name.endswith("Time") and value is not None:
                    value = iso_utc(value)
                props[name] = value
            out.setdefault(view, {})[xid] = props
    return out


def test_one_node_per_record_in_each_view() -> None:
    graph = PLANT.expected_nodes()
    size = PLANT.size
    assets = graph.nodes["CogniteAsset"]
    assert len(assets) == 1 + size.buildings + size.workcenters + 1 + size.parts
    assert len(graph.nodes["CogniteTimeSeries"]) == 2 * size.workcenters
    assert set(graph.nodes["CogniteSourceSystem"]) == {"plex"}
    malformed_jobs = sum(1 for row in PLANT.malformed_rows("jobs"))
    assert len(graph.nodes["CogniteActivity"]) == size.jobs - malformed_jobs


def test_jobs_on_unknown_parts_keep_their_link_and_the_part_is_an_empty_node() -> None:
    graph = PLANT.expected_nodes()
    prefix = f"PCN{PLANT.pcn}"
    unknown = [
        job_id for job_id in PLANT.unknown_part_job_ids() if f"{prefix}_JOB_{job_id}" in graph.nodes["CogniteActivity"]
    ]
    assert unknown
    for job_id in unknown:
        links = graph.nodes["CogniteActivity"][f"{prefix}_JOB_{job_id}"].properties["assets"]
        assert links & graph.empty_nodes
    assert not graph.empty_nodes & set(graph.nodes["CogniteAsset"])
    assert PLANT.expected_cdf().deferred  # the classic expectation defers the same jobs instead


def test_the_expectation_matches_itself_and_reports_differences() -> None:
    graph = PLANT.expected_nodes(streams=["master_data", "jobs"])
    actual = _as_cdf(graph)
    assert graph.mismatches(actual, empty_nodes=graph.empty_nodes) == []
    plant_xid = f"PCN{PLANT.pcn}_PLANT"
    actual["CogniteAsset"][plant_xid]["name"] = "Renamed"
    job = next(iter(actual["CogniteActivity"]))
    del actual["CogniteActivity"][job]
    problems = graph.mismatches(actual, empty_nodes={*graph.empty_nodes, "PCN340884_PART_ghost"})
    assert [p.split(":")[0] for p in problems] == [
        f"missing CogniteActivity {job}",
        f"CogniteAsset {plant_xid} differs",
        "unexpected empty node PCN340884_PART_ghost",
    ]


def test_nodes_of_other_plants_are_not_compared() -> None:
    graph = PLANT.expected_nodes(streams=["master_data"])
    actual = _as_cdf(graph)
    actual["CogniteAsset"]["PCN999_PLANT"] = {"name": "Another plant"}
    assert graph.mismatches(actual) == []
