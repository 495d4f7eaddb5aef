"""Production and scrap read just the fields they sum where the record hooks are built-in, records where not: the
same datapoints, dead letters and report either way."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from plex_cognite.extractors import MasterDataExtractor, ProductionExtractor, QuantitySums, ScrapExtractor
from plex_cognite.extractors.registry import builtin_extractors
from plex_cognite.plex.client import AsyncPlexClient
from plex_cognite.runner import RunReport, run_extractors
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant
from plex_cognite.typing import TimeWindow

from .conftest import mismatches, run, settings_for


class _RecordsProduction(ProductionExtractor):
    """Overrides `read_entries` (only calling the built-in one): its entries come as records."""

    def read_entries(self, window: TimeWindow) -> Awaitable[list[Any]]:
        return super().read_entries(window)


class _RecordsScrap(ScrapExtractor):
    def read_entries(self, window: TimeWindow) -> Awaitable[list[Any]]:
        return super().read_entries(window)


class _OwnSums(ProductionExtractor):
    def window_sums(self, series_of: dict[str, str]) -> QuantitySums:
        return QuantitySums(series_of)


class _OwnMapping(ScrapExtractor):
    def map_records(self, records: Sequence[Any], transform: Callable[[Any], Any], **kwargs: Any) -> list[Any]:
        return super().map_records(records, transform, **kwargs)


@pytest.fixture
def projected_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The streams of every projected window read."""
    streams: list[str] = []
    read = AsyncPlexClient._read_history_fields

    async def counted(self: AsyncPlexClient, *args: Any, **kwargs: Any) -> Any:
        streams.append(kwargs["stream"])
        return await read(self, *args, **kwargs)

    monkeypatch.setattr(AsyncPlexClient, "_read_history_fields", counted)
    return streams


def _letters(workdir: Path) -> list[tuple[str, str, str]]:
    letters = [json.loads(line) for line in (workdir / "dead-letters.jsonl").read_text().splitlines()]
    return sorted(
        (x["stream"], x["reason"], json.dumps(x["payload"], sort_keys=True))
        for x in letters
        if x["stream"] in ("production", "scrap")
    )


def _summary(report: RunReport) -> list[tuple[str, int, int, int, int]]:
    return sorted(
        (r.stream, r.read, r.datapoints, r.deferred, r.dead_lettered)
        for r in report.streams
        if r.stream in ("production", "scrap")
    )


def _points(cdf: FakeCDF) -> dict[str, list[tuple[int, float]]]:
    return {ts["externalId"]: cdf.datapoints(ts["externalId"]) for ts in cdf.timeseries}


async def test_records_and_projected_fields_write_the_same(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path, projected_reads: list[str]
) -> None:
    plex, cdf = fakes
    projected = await run(plex, cdf, plant, tmp_path / "projected")
    assert projected.ok, projected.format_table()
    assert set(projected_reads) == {"production", "scrap"}
    assert _letters(tmp_path / "projected")  # the plant sends malformed production and scrap rows
    points = _points(cdf)
    assert any(points.values())

    cdf.reset()
    projected_reads.clear()
    settings = settings_for(plex, cdf, plant, tmp_path / "records")
    factories = {**builtin_extractors(), "production": _RecordsProduction, "scrap": _RecordsScrap}
    records = await run_extractors(settings, extractors=[factories[name] for name in settings.extraction.streams])
    assert records.ok, records.format_table()
    assert projected_reads == []

    assert mismatches(cdf, plant, tmp_path / "records", plex) == []
    assert _points(cdf) == points
    assert _letters(tmp_path / "records") == _letters(tmp_path / "projected")
    assert _summary(records) == _summary(projected)


@pytest.mark.parametrize("extractor", [_OwnSums, _OwnMapping])
async def test_an_overridden_record_hook_gets_records(
    fakes: tuple[FakePlex, FakeCDF],
    plant: SimulatedPlant,
    tmp_path: Path,
    projected_reads: list[str],
    extractor: type[ProductionExtractor],
) -> None:
    plex, cdf = fakes
    report = await run_extractors(settings_for(plex, cdf, plant, tmp_path), extractors=[MasterDataExtractor, extractor])
    assert report.ok, report.format_table()
    assert projected_reads == []
    assert sum(r.datapoints for r in report.streams) > 0


async def test_a_client_with_its_own_entry_read_gets_to_read_them(
    fakes: tuple[FakePlex, FakeCDF],
    plant: SimulatedPlant,
    tmp_path: Path,
    projected_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plex, cdf = fakes
    own_reads: list[TimeWindow] = []
    read = AsyncPlexClient.read_scrap_entries

    async def own(self: AsyncPlexClient, pcn: str, window: TimeWindow) -> Any:
        own_reads.append(window)
        return await read(self, pcn, window)

    monkeypatch.setattr(AsyncPlexClient, "read_scrap_entries", own)
    report = await run(plex, cdf, plant, tmp_path)
    assert report.ok, report.format_table()
    assert own_reads
    assert set(projected_reads) == {"production"}
    assert mismatches(cdf, plant, tmp_path, plex) == []
