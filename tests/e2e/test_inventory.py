"""The inventory streams and a Plex Data Source, beside the five classic streams, end to end against both fakes.

CDF must hold exactly what the plant says (locations, move events, on-hand series and their latest values, container
and checksheet rows), under Plex 429s on every inventory endpoint and on the Data Source API, with every Connect
request as the OpenAPI describes it. Re-runs write nothing; after containers are consumed and quantities change,
exactly the consumed rows are deleted and only the changed parts get a point; a failed or empty snapshot deletes
nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from plex_cognite.config import DEFAULT_STREAMS, ExtractorSettings
from plex_cognite.runner import RunReport, run_extractors
from plex_cognite.testing import Fault
from plex_cognite.testing.demo import demo_settings
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import (
    CHECKSHEETS_SOURCE,
    INVENTORY_STREAMS,
    SimulatedPlant,
    on_hand_changes,
)
from tests._openapi import validate_request

from .conftest import E2E_SIZE, write_requests

CONTAINERS = "inventory_containers"
ROWS = f"/raw/dbs/plex/tables/{CONTAINERS}/rows"
STREAMS = [*DEFAULT_STREAMS, *INVENTORY_STREAMS]


@pytest.fixture
def plant() -> SimulatedPlant:
    return SimulatedPlant(seed=7, pcn="340884", size=replace(E2E_SIZE, containers=40, container_moves=160))


def inventory_settings(plex: FakePlex, cdf: FakeCDF, plant: SimulatedPlant, workdir: Path) -> ExtractorSettings:
    """The e2e settings with every stream, the checksheets data source and this PCN's Data Source account."""
    username, password = plex.datasource_credentials(plant.pcn)
    account = {"base_url": plex.datasource_url, "username": username, "password": password}
    return demo_settings(
        plex.base_url, cdf, plant, workdir, datasource=account, streams=STREAMS, datasources=[CHECKSHEETS_SOURCE]
    )


async def run(plex: FakePlex, cdf: FakeCDF, plant: SimulatedPlant, workdir: Path) -> RunReport:
    return await run_extractors(inventory_settings(plex, cdf, plant, workdir))


def cdf_problems(
    plex: FakePlex, cdf: FakeCDF, plant: SimulatedPlant, workdir: Path, *, earlier: SimulatedPlant | None = None
) -> list[str]:
    """Everything the plant expects in CDF: assets, events, series, points, RAW rows and latest on-hand values.

    After a mutation, pass the plant extracted before (`earlier`): the series of a part whose containers are all gone
    stay, with a latest value of 0.
    """
    settings = inventory_settings(plex, cdf, plant, workdir)
    expected = plant.expected_cdf(settings.extraction.start, settings.extraction.end, streams=STREAMS)
    if earlier is not None:
        for xid, series in earlier.expected_cdf(streams=STREAMS).timeseries.items():
            if xid.endswith("_ON_HAND_QTY") and xid not in expected.timeseries:
                expected.timeseries[xid], expected.on_hand[xid] = series, 0.0
    latest = {xid: cdf.datapoints(xid)[-1][1] for xid in expected.on_hand if _has_points(cdf, xid)}
    raw = {table: cdf.raw_rows("plex", table) for table in expected.raw}
    points = {row["externalId"]: cdf.datapoints(row["externalId"]) for row in cdf.timeseries}
    problems = expected.mismatches(cdf.assets, cdf.events, cdf.timeseries, points, raw=raw, on_hand=latest)
    asset_ids = {row["id"] for row in cdf.assets}
    for event in cdf.events:
        if not set(event.get("assetIds") or ()) <= asset_ids or not event.get("assetIds"):
            problems.append(f"event {event['externalId']} links {event.get('assetIds')}: not (only) existing assets")
    return problems


def _has_points(cdf: FakeCDF, xid: str) -> bool:
    try:
        return bool(cdf.datapoints(xid))
    except KeyError:
        return False


def stream_report(report: RunReport, stream: str) -> Any:
    (found,) = [r for r in report.streams if r.stream == stream]
    return found


async def test_every_stream_under_plex_429s_leaves_exactly_the_plant_in_cdf(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    for path in (r"/containers$", r"/locations$", r"/container-location-moves$", r"^/api/datasources/"):
        plex.inject(Fault("status", status=429, retry_after="0.05", path=path, times=2))

    report = await run(plex, cdf, plant, tmp_path)

    assert report.ok, report.format_table()
    assert cdf_problems(plex, cdf, plant, tmp_path) == []
    assert sum(1 for r in plex.request_log if r.status == 429) == 8  # every fault fired, and was retried
    expected = plant.expected_cdf(plant.start, plant.end, streams=STREAMS)
    malformed_moves = [d for d in expected.dead_letters if d.stream == "container_moves"]
    assert malformed_moves
    letters = [json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()]
    assert sum(1 for x in letters if x["stream"] == "container_moves") == len(malformed_moves)
    assert stream_report(report, "container_moves").dead_lettered == len(malformed_moves)
    assert stream_report(report, "datasource:checksheets").written == len(expected.raw["checksheets"])
    connect = [r for r in plex.request_log if not r.path.startswith("/api/datasources/")]
    assert {r.path for r in connect} >= {
        "/inventory/v1/inventory-tracking/containers",
        "/inventory/v1/inventory-definitions/locations",
        "/inventory/v1/inventory-history/container-location-moves",
    }
    for record in connect:
        validate_request(record.method, record.path, record.query)


async def test_an_unchanged_rerun_writes_nothing(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path)).ok
    cdf.reset_request_log()

    again = await run(plex, cdf, plant, tmp_path)

    assert again.ok, again.format_table()
    assert write_requests(cdf) == []
    assert again.total("written") == again.total("deleted") == 0
    assert cdf_problems(plex, cdf, plant, tmp_path) == []


async def test_consumed_containers_are_deleted_changed_ones_updated_and_only_changed_sums_get_a_point(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path)).ok
    containers = list(plant.containers())
    consumed = [row["serialNo"] for row in containers[:5]]
    changed = {containers[7]["serialNo"]: 4321.0, containers[8]["serialNo"]: 0.0}
    after = plant.mutate_inventory(consume=consumed, quantities=changed)
    plex.set_plant(after)
    points_before = {xid: len(cdf.datapoints(xid)) for xid in plant.expected_cdf(streams=STREAMS).on_hand}
    cdf.reset_request_log()

    report = await run(plex, cdf, after, tmp_path)

    assert report.ok, report.format_table()
    assert cdf_problems(plex, cdf, after, tmp_path, earlier=plant) == []
    emptied = set(plant.expected_cdf(streams=STREAMS).on_hand) - set(after.expected_cdf(streams=STREAMS).on_hand)
    assert emptied  # a part whose containers were all consumed: its series stays, at 0
    inventory = stream_report(report, "inventory")
    assert inventory.deleted == len(consumed)
    assert inventory.written == len(changed) + len(on_hand_changes(plant, after))  # rows + one point per change
    new_points = {xid: len(cdf.datapoints(xid)) - count for xid, count in points_before.items()}
    assert {xid for xid, n in new_points.items() if n} == set(on_hand_changes(plant, after))
    assert set(new_points.values()) <= {0, 1}
    assert sorted(set(write_requests(cdf))) == sorted({f"POST {ROWS}", f"POST {ROWS}/delete", "POST /timeseries/data"})


@pytest.mark.parametrize("failure", ["error", "empty"])
async def test_a_failed_or_empty_snapshot_deletes_nothing(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path, failure: str
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path)).ok
    rows = cdf.raw_rows("plex", CONTAINERS)
    assert rows
    if failure == "error":
        plex.inject(Fault("status", status=500, path=r"/inventory-tracking/containers$"))
    else:
        plex.set_plant(plant.mutate_inventory(consume=[row["serialNo"] for row in plant.containers()]))
    cdf.reset_request_log()

    report = await run(plex, cdf, plant, tmp_path)

    inventory = stream_report(report, "inventory")
    assert (inventory.error is not None) == (failure == "error")
    assert [r for r in report.streams if r.stream != "inventory" and not r.ok] == []
    assert inventory.deleted == 0
    assert write_requests(cdf) == []  # no delete, no row, no on-hand point
    assert cdf.raw_rows("plex", CONTAINERS) == rows
