"""Quick Start, snippet 3: a custom extractor on `AsyncBaseExtractor`, fanning out assets and events at once.

The events link to assets the same extractor writes concurrently. CDF links by numeric id only, so an event that
is written before its asset exists cannot be linked: it is held (never written unlinked) and written again after
the run's other writes, by which time its asset exists. The fake CDF answers asset writes slowly here, so the
events really do race ahead of their assets.
"""

from __future__ import annotations

# --- snippet body (verbatim) ---
import asyncio
from pathlib import Path

from plex_cognite import AssetItem, AsyncBaseExtractor, EventItem
from plex_cognite.plex.models import Workcenter, WorkcenterStatusEntry
from plex_cognite.runner import run_extractors
from plex_cognite.testing import FakeCDF, FakePlex, SimulatedPlant
from plex_cognite.testing._faults import Fault
from plex_cognite.testing.demo import demo_settings
from tests.e2e.conftest import E2E_SIZE


def workcenter_asset(workcenter: Workcenter, pcn: str) -> AssetItem:
    return AssetItem(f"DEMO{pcn}_WC_{workcenter.workcenter_id}", name=workcenter.workcenter_code or "workcenter")


def status_event(entry: WorkcenterStatusEntry, pcn: str) -> EventItem:
    started = int(entry.log_date.timestamp() * 1000)
    return EventItem(
        f"DEMO{pcn}_WCS_{entry.workcenter_id}_{started}",
        type="status",
        subtype=entry.workcenter_status,
        start_time=started,
        asset_external_ids=(f"DEMO{pcn}_WC_{entry.workcenter_id}",),
    )


class WorkcenterActivity(AsyncBaseExtractor):
    stream = "workcenter_activity"

    async def extract(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.workcenters())
            group.create_task(self.status_log())

    async def workcenters(self) -> None:
        async for workcenters in self.plex.iter_workcenters():
            await self.sinks.assets.write([workcenter_asset(w, self.pcn) for w in workcenters])

    async def status_log(self) -> None:
        async for window, entries in self.windows(self.plex.read_workcenter_status_entries):
            await self.sinks.events.write([status_event(e, self.pcn) for e in entries], window=window)


# --- end of snippet ---


def assert_every_event_is_linked_to_its_workcenter(cdf: FakeCDF) -> None:
    asset_ids = {asset["externalId"]: asset["id"] for asset in cdf.assets}
    events = [event for event in cdf.events if event["externalId"].startswith("DEMO")]
    assert events
    for event in events:
        workcenter = event["externalId"].rsplit("_", 1)[0].replace("_WCS_", "_WC_")
        assert event.get("assetIds") == [asset_ids[workcenter]], event["externalId"]


async def test_standalone_run_links_every_event_though_assets_land_after_the_events(tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=5, size=E2E_SIZE)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        cdf.faults.add(Fault("latency", delay_s=0.5, method="POST", path=r"^/assets$"))
        settings = demo_settings(plex.base_url, cdf, plant, tmp_path, streams=["master_data"])

        async with WorkcenterActivity.from_settings(settings, pcn=plant.pcn) as extractor:
            report = await extractor.run()

        assert report.ok, report
        assert report.deferred == 0
        assert report.windows == report.windows_planned > 0
        assert_every_event_is_linked_to_its_workcenter(cdf)
        assert extractor.context.dead_letters.count(plant.pcn, "workcenter_activity") == 0


async def test_beside_the_built_ins_and_a_rerun_writes_nothing(tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=6, size=E2E_SIZE)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        settings = demo_settings(plex.base_url, cdf, plant, tmp_path, streams=["master_data", "jobs"])
        first = await run_extractors(settings, extra_extractors=[WorkcenterActivity])
        assert first.ok, first.format_table()
        assert_every_event_is_linked_to_its_workcenter(cdf)
        jobs = [event for event in cdf.events if event["type"] == "job"]
        assert jobs
        assert all(event["assetIds"] for event in jobs)

        second = await run_extractors(settings, extra_extractors=[WorkcenterActivity])
        activity = next(r for r in second.streams if r.stream == "workcenter_activity")
        assert (activity.written, activity.requests) == (0, 0)
