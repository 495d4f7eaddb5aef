"""Data-source streams (`datasource:<name>`) against FakePlex's Data Source API and FakeCDF.

Windowed sources are read in the history windows (split where Plex cuts a window at the row limit) in both
response formats; snapshot sources rewrite only changed rows; `errors[]` answers stop the stream with their code and
leave the windows open; rows without a key are dead letters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plex_cognite.config import ExtractorSettings
from plex_cognite.core.state import LocalStateStore
from plex_cognite.extractors import DataSourceExtractor
from plex_cognite.runner import RunReport, run_extractors
from plex_cognite.testing import FakeCDF, FakePlex, SimulatedPlant
from plex_cognite.testing.demo import demo_settings
from plex_cognite.testing.plant import CHECKSHEETS_SOURCE, INVENTORY_STREAMS
from tests._fakes import write_requests
from tests.e2e.conftest import E2E_SIZE

PLANT = SimulatedPlant(seed=5, pcn="340884", size=E2E_SIZE)


@pytest.fixture
def fakes() -> Any:
    with FakePlex(PLANT) as plex, FakeCDF() as cdf:
        yield plex, cdf


def settings(
    plex: FakePlex, cdf: FakeCDF, workdir: Path, source: dict[str, Any], *, also: tuple[str, ...] = ()
) -> ExtractorSettings:
    username, password = plex.datasource_credentials(PLANT.pcn)
    account = {"base_url": plex.datasource_url, "username": username, "password": password}
    streams = [*also, f"datasource:{source['name']}"]
    return demo_settings(plex.base_url, cdf, PLANT, workdir, datasource=account, streams=streams, datasources=[source])


async def run(
    plex: FakePlex, cdf: FakeCDF, workdir: Path, source: dict[str, Any], *, also: tuple[str, ...] = ()
) -> RunReport:
    return await run_extractors(settings(plex, cdf, workdir, source, also=also))


@pytest.mark.parametrize("format", [1, 2])
async def test_a_windowed_source_lands_whole_in_either_format_and_a_rerun_writes_nothing(
    fakes: tuple[FakePlex, FakeCDF], tmp_path: Path, format: int
) -> None:
    plex, cdf = fakes
    source = {**CHECKSHEETS_SOURCE, "format": format}
    expected = PLANT.expected_cdf(PLANT.start, PLANT.end, streams=INVENTORY_STREAMS).raw["checksheets"]

    report = await run(plex, cdf, tmp_path, source)

    assert report.ok, report.format_table()
    assert cdf.raw_rows("plex", "checksheets") == expected
    (stream,) = report.streams
    assert stream.windows == stream.windows_total == 5
    calls = plex.request_counts(path="/api/datasources/4142/execute")
    assert calls > 5  # the busy day passed the row limit and was split
    cdf.reset_request_log()

    again = await run(plex, cdf, tmp_path, source)

    assert again.ok
    assert write_requests(cdf) == []
    assert plex.request_counts(path="/api/datasources/4142/execute") == calls  # every window was done


async def test_a_snapshot_source_rewrites_only_changed_rows(fakes: tuple[FakePlex, FakeCDF], tmp_path: Path) -> None:
    plex, cdf = fakes
    part = next(iter(PLANT.parts()))
    source = {"name": "part", "id": 1791, "inputs": {"Part_No": part["number"]}, "key_columns": ["Part_Key"]}

    first = await run(plex, cdf, tmp_path, source)

    assert first.ok, first.format_table()
    (row,) = cdf.raw_rows("plex", "part").values()
    assert row["Name"] == part["name"]
    assert row["pcn"] == PLANT.pcn
    cdf.reset_request_log()
    again = await run(plex, cdf, tmp_path, source)
    assert again.ok
    assert again.streams[0].unchanged == 1
    assert write_requests(cdf) == []


async def test_a_row_without_its_key_column_is_a_dead_letter(fakes: tuple[FakePlex, FakeCDF], tmp_path: Path) -> None:
    plex, cdf = fakes
    part = next(iter(PLANT.parts()))
    source = {"name": "part", "id": 1791, "inputs": {"Part_No": part["number"]}, "key_columns": ["Part_Id"]}

    report = await run(plex, cdf, tmp_path, source)

    assert report.ok
    assert report.streams[0].dead_lettered == 1
    assert cdf.raw_rows("plex", "part") == {}
    assert "Part_Id" in (tmp_path / "dead-letters.jsonl").read_text()


async def test_an_errors_answer_stops_the_stream_with_its_code_and_leaves_the_windows_open(
    fakes: tuple[FakePlex, FakeCDF], tmp_path: Path
) -> None:
    plex, cdf = fakes
    wrong = {**CHECKSHEETS_SOURCE, "window": {"begin_input": "Start_Date", "end_input": "End_Date"}}

    report = await run(plex, cdf, tmp_path, wrong, also=("master_data", "jobs"))

    (stream,) = [r for r in report.streams if r.stream == "datasource:checksheets"]
    assert stream.error is not None
    assert "DATA_SOURCE_INPUT_NOT_FOUND" in stream.error
    assert stream.windows == 0
    assert {r.stream for r in report.streams if r.ok} == {"master_data", "jobs"}  # the others ran
    state = await LocalStateStore(tmp_path / "state.json").load(PLANT.pcn, "datasource:checksheets")
    assert list(state.windows) == []
    assert cdf.raw_rows("plex", "checksheets") == {}

    fixed = await run(plex, cdf, tmp_path, CHECKSHEETS_SOURCE)
    assert fixed.ok
    assert fixed.streams[0].windows == 5


async def test_the_extractor_runs_standalone_for_a_configured_source_by_name(
    fakes: tuple[FakePlex, FakeCDF], tmp_path: Path
) -> None:
    plex, cdf = fakes
    config = settings(plex, cdf, tmp_path, CHECKSHEETS_SOURCE)
    async with DataSourceExtractor.from_settings(config, pcn=PLANT.pcn, source="checksheets") as extractor:
        assert extractor.stream == "datasource:checksheets"
        report = await extractor.run()
    assert report.ok
    assert len(cdf.raw_rows("plex", "checksheets")) == report.written > 0
