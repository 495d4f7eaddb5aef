"""Which streams of a PCN wait for which: asset streams first; streams that need no parts start once the asset
streams have written the upper levels (plant, buildings, workcenters); the rest once the asset streams are done."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from plex_cognite.core.context import ExtractorContext
from plex_cognite.core.extractor import BaseExtractor
from plex_cognite.core.state import MemoryStateStore, StreamState
from plex_cognite.errors import StateError
from plex_cognite.extractors import MasterDataExtractor, ProductionExtractor, ScrapExtractor, production_series
from plex_cognite.extractors.resources import ExtractorResources
from plex_cognite.runner import RunReport, run_extractors
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant
from plex_cognite.typing import Pcn, StateStore

from .conftest import settings_for

_WAIT_S = 10.0


class _Steps:
    """What the test extractors of one run did, in order, and the handshake between them."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.early_started = asyncio.Event()


class _Assets(BaseExtractor):
    """An asset stream: says its upper levels are written (or fails, before or after), then waits for the early one."""

    stream: ClassVar[str] = "assets"
    needs_assets: ClassVar[bool] = False

    def __init__(self, context: ExtractorContext, steps: _Steps, *, say: bool, fail: str | None) -> None:
        super().__init__(context)
        self.steps, self.say, self.fail = steps, say, fail

    async def extract(self) -> None:
        if self.fail == "before":
            raise RuntimeError("the buildings read failed")
        if self.say:
            self.upper_assets_written()
            # Parts are still being written: the early stream runs meanwhile (a deadlock here fails the test).
            await asyncio.wait_for(self.steps.early_started.wait(), _WAIT_S)
        if self.fail == "after":
            raise RuntimeError("the parts write failed")
        self.steps.done.append(self.stream)


class _Early(BaseExtractor):
    stream: ClassVar[str] = "early"
    needs_parts: ClassVar[bool] = False

    def __init__(self, context: ExtractorContext, steps: _Steps) -> None:
        super().__init__(context)
        self.steps = steps

    async def extract(self) -> None:
        self.steps.early_started.set()
        self.steps.done.append(self.stream)


class _Late(_Early):
    stream: ClassVar[str] = "late"
    needs_parts: ClassVar[bool] = True


class _AssetsStateUnreadable(MemoryStateStore):
    async def load(self, pcn: Pcn, stream: str) -> StreamState:
        if stream == "assets":
            raise StateError("the state of assets cannot be read")
        return await super().load(pcn, stream)


async def _run(
    fakes: tuple[FakePlex, FakeCDF],
    plant: SimulatedPlant,
    tmp_path: Path,
    *,
    say: bool,
    fail: str | None = None,
    state_store: StateStore | None = None,
) -> tuple[RunReport, _Steps]:
    plex, cdf = fakes
    steps = _Steps()

    def assets(context: ExtractorContext, resources: ExtractorResources) -> BaseExtractor:
        return _Assets(context, steps, say=say, fail=fail)

    def early(context: ExtractorContext, resources: ExtractorResources) -> BaseExtractor:
        return _Early(context, steps)

    def late(context: ExtractorContext, resources: ExtractorResources) -> BaseExtractor:
        return _Late(context, steps)

    report = await run_extractors(
        settings_for(plex, cdf, plant, tmp_path), extractors=[late, early, assets], state_store=state_store
    )
    return report, steps


def _errors(report: RunReport) -> dict[str, str | None]:
    return {stream.stream: stream.error for stream in report.streams}


async def test_a_stream_that_needs_no_parts_starts_once_the_upper_levels_are_written(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    report, steps = await _run(fakes, plant, tmp_path, say=True)
    assert report.ok, report.format_table()
    assert steps.done == ["early", "assets", "late"]


async def test_without_word_from_the_asset_streams_it_starts_when_they_are_done(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    report, steps = await _run(fakes, plant, tmp_path, say=False)
    assert report.ok, report.format_table()
    assert steps.done[0] == "assets"
    assert sorted(steps.done[1:]) == ["early", "late"]


async def test_an_asset_stream_that_fails_first_skips_both(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    report, steps = await _run(fakes, plant, tmp_path, say=True, fail="before")
    assert steps.done == []
    assert _errors(report) == {
        "assets": "RuntimeError: the buildings read failed",
        "early": "skipped: assets failed",
        "late": "skipped: assets failed",
    }


async def test_an_asset_stream_that_fails_before_its_extract_skips_both(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    report, steps = await _run(fakes, plant, tmp_path, say=True, state_store=_AssetsStateUnreadable())
    assert steps.done == []
    errors = _errors(report)
    assert errors["early"] == errors["late"] == "skipped: assets failed"


async def test_an_asset_stream_that_fails_after_the_upper_levels_skips_only_what_needs_parts(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    report, steps = await _run(fakes, plant, tmp_path, say=True, fail="after")
    assert steps.done == ["early"]
    assert _errors(report) == {
        "assets": "RuntimeError: the parts write failed",
        "early": None,
        "late": "skipped: assets failed",
    }


async def test_production_needs_no_parts_unless_its_series_are_mapped_otherwise(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    needs_parts: dict[str, bool] = {}

    def production(context: ExtractorContext, resources: ExtractorResources) -> BaseExtractor:
        needs_parts["built-in"] = ProductionExtractor(context, resources).needs_parts
        mapped = ProductionExtractor(context, resources, series_transform=production_series)
        needs_parts["series_transform"] = mapped.needs_parts  # it may link a series to a part
        return mapped

    report = await run_extractors(
        settings_for(plex, cdf, plant, tmp_path), extractors=[MasterDataExtractor, production]
    )
    assert report.ok, report.format_table()
    assert needs_parts == {"built-in": False, "series_transform": True}
    assert not ScrapExtractor.needs_parts
