"""A full extraction over real HTTP on both sides equals the plant's expected CDF content; re-runs write nothing."""

from __future__ import annotations

import json
from pathlib import Path

from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant

from .conftest import mismatches, run, write_requests


async def test_full_run_matches_the_plant(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    report = await run(plex, cdf, plant, tmp_path)
    assert report.ok, report.format_table()
    assert mismatches(cdf, plant, tmp_path, plex) == []

    expected = plant.expected_cdf()
    letters = [json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()]
    assert len(letters) == len(expected.dead_letters) == report.total("dead_lettered")
    assert {(x["stream"], x["reason"].split(":")[0]) for x in letters} <= {
        (d.stream, d.reason_kind) for d in expected.dead_letters
    }
    deferred = {r.stream: r.deferred for r in report.streams}
    expected_jobs_deferred = sum(1 for xid in expected.deferred if "_JOB_" in xid)
    assert deferred["jobs"] == expected_jobs_deferred
    assert deferred["workcenter_status"] == len(expected.deferred) - expected_jobs_deferred
    assert report.total("datapoints") == expected.datapoint_count()


async def test_rerun_over_unchanged_data_sends_zero_cdf_writes(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    first = await run(plex, cdf, plant, tmp_path)
    assert first.ok
    assert write_requests(cdf)
    cdf.reset_request_log()

    second = await run(plex, cdf, plant, tmp_path)

    assert second.ok, second.format_table()
    assert write_requests(cdf) == []
    assert second.total("written") == 0
    assert second.total("requests") == 0
    assert mismatches(cdf, plant, tmp_path, plex) == []


async def test_quantity_series_take_the_unit_plex_sends_and_keep_it_without_rewrites(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path)).ok
    units = {ts["externalId"]: ts.get("unit") for ts in cdf.timeseries}
    sent = {entry.get("unit") for entry in plant.production_entries() if isinstance(entry, dict)}
    produced = {xid: unit for xid, unit in units.items() if xid.endswith("_PRODUCED_QTY")}
    assert produced
    assert set(produced.values()) <= sent - {None}  # every produced series carries the unit of its entries
    assert all(unit is None for xid, unit in units.items() if xid.endswith("_SCRAP_QTY"))  # scrap sends none
    cdf.reset_request_log()
    assert (await run(plex, cdf, plant, tmp_path)).ok
    assert write_requests(cdf) == []  # the unit is remembered: the series is not written without it again


async def test_after_a_mutation_only_changed_records_are_written(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path)).ok
    changed_plant = plant.mutate(0.1)
    plex.set_plant(changed_plant)
    cdf.reset_request_log()

    report = await run(plex, cdf, changed_plant, tmp_path)

    assert report.ok, report.format_table()
    assert mismatches(cdf, changed_plant, tmp_path, plex) == []
    before, after = plant.expected_cdf(), changed_plant.expected_cdf()
    changed_assets = {x for x in after.assets if after.assets[x] != before.assets.get(x)}
    changed_events = {x for x in after.events if after.events[x] != before.events.get(x)}
    assert changed_assets
    assert changed_events
    written = {r.stream: r.written for r in report.streams}
    assert written["master_data"] == len(changed_assets)
    assert written["jobs"] == len(changed_events)
    assert written["production"] == written["scrap"] == written["workcenter_status"] == 0
    writes = write_requests(cdf)
    assert writes
    assert all(path.split()[1].startswith(("/assets", "/events")) for path in writes)
