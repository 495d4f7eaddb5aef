"""Shared pieces of the scale-out tests: a small plant behind FakePlex and FakeCDF, and settings per state backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from plex_cognite.config import ExtractorSettings, StateSettings
from plex_cognite.runner import run_extractors
from plex_cognite.testing.demo import demo_settings
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant
from tests._fakes import fakes as fakes
from tests._fakes import write_requests as write_requests

#: Four days of history, every awkward case (malformed rows, same-millisecond twins, unknown parts), seconds per run.
SIZE = PlantSize(
    buildings=2,
    workcenters=6,
    parts=30,
    jobs=40,
    production_entries=600,
    scrap_entries=100,
    workcenter_status_entries=200,
    containers=5,
    history_days=4,
    malformed_every=41,
    same_ms_every=17,
    unknown_part_every=23,
)

#: What a backfill writes: the windowed streams, on top of the master data the normal runner wrote first.
BACKFILLED = ["master_data", "production", "scrap", "workcenter_status"]


def cdf_mismatches(cdf: FakeCDF, plant: SimulatedPlant) -> list[str]:
    """Differences between the fake CDF and what a full extraction of the backfilled streams yields."""
    expected = plant.expected_cdf(streams=BACKFILLED)
    series = [row["externalId"] for row in cdf.timeseries]
    return expected.mismatches(cdf.assets, cdf.events, cdf.timeseries, {xid: cdf.datapoints(xid) for xid in series})


@pytest.fixture
def plant() -> SimulatedPlant:
    return SimulatedPlant(seed=7, pcn="340884", size=SIZE)


def backfill_settings(
    plex: FakePlex, cdf: FakeCDF, plant: SimulatedPlant, workdir: Path, state: StateSettings | None = None
) -> ExtractorSettings:
    """Settings pointing at the fakes (loopback URLs: child processes reach them too)."""
    settings = demo_settings(plex.base_url, cdf, plant, workdir)
    return settings if state is None else settings.model_copy(update={"state": state})


async def load_master_data(settings: ExtractorSettings) -> None:
    """What a backfill needs first: the asset hierarchy, written by the normal runner."""
    extraction = settings.extraction.model_copy(update={"streams": ["master_data"]})
    report = await run_extractors(settings.model_copy(update={"extraction": extraction}))
    assert report.ok, report.format_table()
