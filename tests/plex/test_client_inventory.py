"""AsyncPlexClient inventory endpoints and the checksheets data source against FakePlex, requests per the OpenAPI."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from plex_cognite.config import DataSourceAccount, DataSourceSettings
from plex_cognite.core.results import DeadLetter
from plex_cognite.errors import ConfigurationError, PlexAPIError, SourceError
from plex_cognite.extractors._inventory import ContainerSnapshot
from plex_cognite.plex import AsyncPlexClient, DataSourceClient
from plex_cognite.resilience import RetryPolicy
from plex_cognite.testing import Fault
from plex_cognite.testing._plant_catalog import DAY_MS
from plex_cognite.testing._plex_datasource import CHECKSHEET_ROW_LIMIT
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import CHECKSHEETS_SOURCE, SimulatedPlant, dead_letter_reason
from tests._openapi import validate_httpx_request
from tests.plex.conftest import (
    OTHER_PCN,
    PCN,
    ClientFactory,
    RecordingTransport,
    SleepRecorder,
    connect_requests,
    settings_for,
)

CHECKSHEETS = int(CHECKSHEETS_SOURCE["id"])


@pytest.fixture(autouse=True)
def every_request_matches_the_openapi(transport: RecordingTransport, fake: FakePlex) -> Iterator[None]:
    yield
    for sent_request in connect_requests(transport, fake):
        validate_httpx_request(sent_request)


async def test_locations_arrive_with_their_awkward_building_codes(
    make_client: ClientFactory, plant: SimulatedPlant
) -> None:
    async with make_client() as plex:
        locations = [location async for batch in plex.iter_locations(PCN) for location in batch]
    assert [location.location_id for location in locations] == [row["locationId"] for row in plant.locations()]
    codes = {location.building_code for location in locations}
    assert None in codes  # a location without a building
    assert "B99" in codes  # a location naming a building the plant does not have


async def test_the_container_snapshot_is_read_completely_per_pcn(
    make_client: ClientFactory, plant: SimulatedPlant, other_plant: SimulatedPlant
) -> None:
    async with make_client(batch_size=7) as plex:
        mine, theirs = ContainerSnapshot(), ContainerSnapshot()
        async for batch in plex.iter_containers(PCN):
            mine.add(batch)
        mine.mark_complete()
        async for batch in plex.iter_containers(OTHER_PCN):
            theirs.add(batch)
    assert set(mine.containers) == {row["serialNo"] for row in plant.containers()}
    assert set(theirs.containers) == {row["serialNo"] for row in other_plant.containers()}
    assert any(container.quantity == 0.0 for container in mine.containers.values())


async def _read_snapshot(plex: AsyncPlexClient, snapshot: ContainerSnapshot) -> None:
    """The extractor's pattern: the snapshot is complete only when the iterator ended without an exception."""
    async for batch in plex.iter_containers(PCN):
        snapshot.add(batch)
    snapshot.mark_complete()


async def test_a_failing_container_snapshot_raises_instead_of_ending_early(
    make_client: ClientFactory, fake: FakePlex
) -> None:
    fake.inject(Fault("status", status=503, path=r"^/inventory/v1/inventory-tracking/containers$"))
    snapshot = ContainerSnapshot()
    async with make_client() as plex:
        with pytest.raises(PlexAPIError):
            await _read_snapshot(plex, snapshot)
    assert not snapshot.complete


async def test_a_truncated_container_body_raises_instead_of_ending_early(
    make_client: ClientFactory, plant: SimulatedPlant
) -> None:
    class CutOff(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body[: len(body) // 2])

    snapshot = ContainerSnapshot()
    async with make_client(transport=CutOff(), batch_size=5) as plex:
        with pytest.raises(SourceError, match="truncated"):
            await _read_snapshot(plex, snapshot)
    assert not snapshot.complete
    assert len(snapshot.containers) < len(list(plant.containers()))


async def test_container_moves_are_windowed_on_adjustment_date_and_bad_rows_are_dead_lettered_once(
    make_client: ClientFactory, plant: SimulatedPlant, letters: list[DeadLetter]
) -> None:
    start, end = plant.start, plant.end
    async with make_client() as plex:
        batches = [batch async for batch in plex.iter_container_move_windows(PCN, start, end, timedelta(hours=12))]
    complete = [batch.window for batch in batches if batch.complete]
    assert (complete[0].start, complete[-1].end) == (start, end)
    assert all(a.end == b.start for a, b in itertools.pairwise(complete))
    moves = [move for batch in batches for move in batch.records]
    rows = list(plant.container_moves(start, end))
    valid = [row for row in rows if dead_letter_reason("container_moves", row) is None]
    assert [(m.serial_no, m.adjustment_date) for m in moves] == [
        (row["serialNo"], plant_time) for row in valid if (plant_time := _parse(row["adjustmentDate"]))
    ]
    expected_letters = [row for row in rows if dead_letter_reason("container_moves", row) is not None]
    assert {"missing_field", "invalid_datetime", "invalid_number"} == {
        dead_letter_reason("container_moves", row) for row in expected_letters
    }
    assert [letter.payload for letter in letters] == expected_letters
    assert all(letter.stream == "container_moves" for letter in letters)
    for letter in letters:
        assert letter.reason.startswith(str(dead_letter_reason("container_moves", letter.payload)))


def _parse(text: str) -> Any:
    from plex_cognite.plex import parse_plex_datetime

    return parse_plex_datetime(text)


def _datasource(fake: FakePlex, sleeps: SleepRecorder, pcn: str = PCN) -> DataSourceClient:
    username, password = fake.datasource_credentials(pcn)
    settings = DataSourceSettings(base_url=fake.datasource_url, username=username, password=password)
    return DataSourceClient(settings, retry=RetryPolicy(max_attempts=3, initial_wait_s=0.01, async_sleep=sleeps))


async def test_a_checksheet_day_past_the_row_limit_is_split_until_nothing_is_cut(
    fake: FakePlex, plant: SimulatedPlant, sleeps: SleepRecorder
) -> None:
    async with _datasource(fake, sleeps) as ds:
        busy_day = await ds.execute(
            CHECKSHEETS, {"Begin_Date": plant.start + timedelta(days=2), "End_Date": plant.start + timedelta(days=3)}
        )
        parts = [
            part
            async for part in ds.execute_windowed(
                CHECKSHEETS,
                {},
                plant.start,
                plant.end,
                window=timedelta(days=1),
                begin_input="Begin_Date",
                end_input="End_Date",
            )
        ]
    assert busy_day.row_limit_exceeded
    assert len(busy_day.rows) == CHECKSHEET_ROW_LIMIT
    assert not any(part.result.row_limit_exceeded for part in parts)
    assert any(part.window.end - part.window.start < timedelta(milliseconds=DAY_MS) for part in parts)
    rows = [row for part in parts for row in part.result.rows]
    assert rows == plant.checksheets(plant.start, plant.end)


async def test_each_pcn_reads_its_own_checksheets_with_its_own_account(
    fake: FakePlex, plant: SimulatedPlant, other_plant: SimulatedPlant, sleeps: SleepRecorder
) -> None:
    window = {"Begin_Date": plant.start, "End_Date": plant.start + timedelta(hours=6)}
    async with _datasource(fake, sleeps, PCN) as mine, _datasource(fake, sleeps, OTHER_PCN) as theirs:
        ours = (await mine.execute(CHECKSHEETS, window)).rows
        other = (await theirs.execute(CHECKSHEETS, window)).rows
    assert ours == plant.checksheets(window["Begin_Date"], window["End_Date"])
    assert other == other_plant.checksheets(window["Begin_Date"], window["End_Date"])
    assert ours != other


async def test_data_source_errors_surface_with_their_code(fake: FakePlex, sleeps: SleepRecorder) -> None:
    async with _datasource(fake, sleeps) as ds:
        with pytest.raises(PlexAPIError) as missing_input:
            await ds.execute(CHECKSHEETS, {"Begin_Date": "2025-01-06T00:00:00Z"})
    assert missing_input.value.status == 400
    assert missing_input.value.code == "DATA_SOURCE_INPUT_REQUIRED"
    assert [error["code"] for error in missing_input.value.errors] == ["DATA_SOURCE_INPUT_REQUIRED"]


async def test_the_client_opens_one_data_source_client_per_pcn_account(
    make_client: ClientFactory, fake: FakePlex, plant: SimulatedPlant, other_plant: SimulatedPlant
) -> None:
    accounts = {}
    for pcn in (PCN, OTHER_PCN):
        username, password = fake.datasource_credentials(pcn)
        accounts[pcn] = DataSourceAccount(username=username, password=password)
    settings = settings_for(fake, datasource=DataSourceSettings(base_url=fake.datasource_url, credentials=accounts))
    window = {"Begin_Date": plant.start, "End_Date": plant.start + timedelta(hours=4)}
    async with make_client(settings) as plex:
        mine, theirs = await plex.datasource_for(PCN), await plex.datasource_for(OTHER_PCN)
        assert await plex.datasource_for(PCN) is mine
        ours = (await mine.execute(CHECKSHEETS, window)).rows
        other = (await theirs.execute(CHECKSHEETS, window)).rows
        with pytest.raises(ConfigurationError, match=r"credentials\.123"):
            await plex.datasource_for("123")
        with pytest.raises(ConfigurationError, match="datasource_for"):
            _ = plex.datasource
    assert ours == plant.checksheets(window["Begin_Date"], window["End_Date"])
    assert other == other_plant.checksheets(window["Begin_Date"], window["End_Date"])


async def test_the_default_account_serves_a_pcn_without_its_own(make_client: ClientFactory) -> None:
    async with make_client() as plex:
        assert await plex.datasource_for(PCN) is plex.datasource
