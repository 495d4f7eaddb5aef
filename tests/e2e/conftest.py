"""Shared pieces of the end-to-end tests: both fakes over real HTTP, a small plant, and run helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plex_cognite.config import ExtractorSettings, SinkKind
from plex_cognite.runner import RunReport, run_extractors
from plex_cognite.testing.demo import demo_settings, verify_cdf
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant
from tests._fakes import fakes as fakes
from tests._fakes import write_requests as write_requests

#: Small enough for seconds per run, big enough for every awkward case (twins, malformed rows, unknown parts).
E2E_SIZE = PlantSize(
    buildings=2,
    workcenters=6,
    parts=30,
    jobs=150,
    production_entries=900,
    scrap_entries=120,
    workcenter_status_entries=300,
    containers=10,
    history_days=5,
    malformed_every=41,
    same_ms_every=17,
    unknown_part_every=23,
)


@pytest.fixture
def plant() -> SimulatedPlant:
    return SimulatedPlant(seed=7, pcn="340884", size=E2E_SIZE)


def settings_for(
    plex: FakePlex,
    cdf: FakeCDF,
    plant: SimulatedPlant,
    workdir: Path,
    *,
    sink: SinkKind = "classic",
    **extraction: Any,
) -> ExtractorSettings:
    return demo_settings(plex.base_url, cdf, plant, workdir, sink=sink, **extraction)


async def run(
    plex: FakePlex,
    cdf: FakeCDF,
    plant: SimulatedPlant,
    workdir: Path,
    *,
    sink: SinkKind = "classic",
    **extraction: Any,
) -> RunReport:
    settings = settings_for(plex, cdf, plant, workdir, sink=sink, **extraction)
    return await run_extractors(settings)


def mismatches(
    cdf: FakeCDF,
    plant: SimulatedPlant,
    workdir: Path,
    plex: FakePlex,
    *,
    sink: SinkKind = "classic",
    **extraction: Any,
) -> list[str]:
    """What differs from the plant's expected content (classic resources and/or the node graph, per `sink`)."""
    return verify_cdf(cdf, plant, settings_for(plex, cdf, plant, workdir, sink=sink, **extraction))
