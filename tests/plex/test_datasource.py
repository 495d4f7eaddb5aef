"""DataSourceClient against FakePlex's Data Source API, plus the response parsing rules on their own."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

from plex_cognite.config import DataSourceSettings
from plex_cognite.errors import PlexAPIError
from plex_cognite.plex import DataSourceClient, DataSourceResult
from plex_cognite.plex.datasource import ROW_LIMIT_FLAGS, parse_result
from plex_cognite.resilience import RetryPolicy
from plex_cognite.testing import Fault
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant, dead_letter_reason
from tests.plex.conftest import ClientFactory, SleepRecorder

PRODUCTION_HISTORY = 230486


def _client(fake: FakePlex, sleeps: SleepRecorder, *, password: str | None = None) -> DataSourceClient:
    username, real_password = fake.datasource_credentials()
    settings = DataSourceSettings(base_url=fake.datasource_url, username=username, password=password or real_password)
    return DataSourceClient(settings, retry=RetryPolicy(max_attempts=3, initial_wait_s=0.01, async_sleep=sleeps))


@pytest.mark.parametrize("fmt", [1, 2])
async def test_both_formats_give_rows_as_dicts(
    fake: FakePlex, plant: SimulatedPlant, sleeps: SleepRecorder, fmt: int
) -> None:
    start = plant.start
    async with _client(fake, sleeps) as ds:
        result = await ds.execute(
            PRODUCTION_HISTORY,
            {"Start_Date": start, "End_Date": start + timedelta(hours=3)},
            format=fmt,  # type: ignore[arg-type]
        )
    assert isinstance(result, DataSourceResult)
    assert result.rows
    assert not result.row_limit_exceeded
    assert result.columns[:2] == ["Workcenter_Key", "Workcenter_Code"]
    assert set(result.rows[0]) == set(result.columns)
    assert isinstance(result.transaction_no, str)
    request = fake.request_log[-1]
    assert request.path == f"/api/datasources/{PRODUCTION_HISTORY}/execute"


async def test_the_row_limit_is_surfaced(fake: FakePlex, plant: SimulatedPlant, sleeps: SleepRecorder) -> None:
    async with _client(fake, sleeps) as ds:
        result = await ds.execute(PRODUCTION_HISTORY, {"Start_Date": plant.start, "End_Date": plant.end})
    assert result.row_limit_exceeded
    assert len(result.rows) == 1000


async def test_windows_are_halved_until_no_window_is_truncated(
    plant: SimulatedPlant, other_plant: SimulatedPlant, sleeps: SleepRecorder
) -> None:
    with FakePlex([plant, other_plant], row_limits={PRODUCTION_HISTORY: 200}) as fake:
        async with _client(fake, sleeps) as ds:
            start, end = plant.start, plant.start + timedelta(days=2)
            full = [
                part async for part in ds.execute_windowed(PRODUCTION_HISTORY, {}, start, end, window=timedelta(days=1))
            ]
            tiny = [
                part
                async for part in ds.execute_windowed(PRODUCTION_HISTORY, {}, start, end, min_window=timedelta(days=1))
            ]
    windows = [part.window for part in full]
    assert windows[0].start == start
    assert windows[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert len(windows) > 2
    assert not any(part.result.row_limit_exceeded for part in full)
    # The fake's data source serves the well-formed production rows only.
    valid = [row for row in plant.production_entries(start, end) if dead_letter_reason("production", row) is None]
    assert sum(len(part.result.rows) for part in full) == len(valid)
    # Never below the minimum window: the two 1-day halves stay truncated and say so.
    assert [part.window.duration for part in tiny] == [timedelta(days=1), timedelta(days=1)]
    assert all(part.result.row_limit_exceeded for part in tiny)


async def test_wrong_password_is_a_clear_401(fake: FakePlex, sleeps: SleepRecorder) -> None:
    async with _client(fake, sleeps, password="wrong-password-xyz") as ds:
        with pytest.raises(PlexAPIError) as info:
            await ds.execute(1791, {"Part_No": "1"})
    assert info.value.status == 401
    assert "plex.datasource.username and password" in str(info.value)
    assert "wrong-password-xyz" not in str(info.value)
    assert sleeps.waits == []


async def test_access_denied_and_unknown_sources_raise_with_their_codes(fake: FakePlex, sleeps: SleepRecorder) -> None:
    async with _client(fake, sleeps) as ds:
        with pytest.raises(PlexAPIError) as denied:
            await ds.execute(6429, {})
        with pytest.raises(PlexAPIError) as missing:
            await ds.execute(999_999, {})
    assert denied.value.code is not None
    assert "ACCESS_DENIED" in denied.value.code
    assert missing.value.code == "DATA_SOURCE_NOT_FOUND"


async def test_plex_client_exposes_the_datasource_client(make_client: ClientFactory, plant: SimulatedPlant) -> None:
    async with make_client() as plex:
        result = await plex.datasource.execute(1791, {"Part_No": "does-not-exist"})
    assert result.rows == []


@pytest.mark.parametrize("flag", ROW_LIMIT_FLAGS)
@pytest.mark.parametrize("where", ["top", "table"])
def test_every_documented_spelling_of_the_row_limit_flag_is_detected(flag: str, where: str) -> None:
    table: dict[str, Any] = {"columns": ["A"], "rows": [[1], [2]]}
    body: dict[str, Any] = {"outputs": {}, "tables": [table], "transactionNo": "12"}
    (body if where == "top" else table)[flag] = True
    result = parse_result(1, body)
    assert result.row_limit_exceeded
    assert result.rows == [{"A": 1}, {"A": 2}]


def test_errors_in_a_200_body_raise_with_status_0() -> None:
    body = {"errors": [{"code": "DATA_SOURCE_INPUT_REQUIRED", "message": "Part_No is required."}], "transactionNo": "9"}
    with pytest.raises(PlexAPIError) as info:
        parse_result(1791, body, status=200)
    assert info.value.status == 0
    assert info.value.code == "DATA_SOURCE_INPUT_REQUIRED"
    assert info.value.errors == body["errors"]


def test_outputs_only_result() -> None:
    result = parse_result(18764, {"outputs": {"Name": "Hex Bolt"}, "tables": [], "transactionNo": "5"})
    assert result.outputs == {"Name": "Hex Bolt"}
    assert result.rows == []
    assert not result.row_limit_exceeded


async def test_a_transient_503_is_retried_and_then_answers(fake: FakePlex, sleeps: SleepRecorder) -> None:
    fault = Fault("status", status=503, method="POST", path=r"^/api/datasources/1791/execute$", times=2)
    fake.inject(fault)
    async with _client(fake, sleeps) as ds:
        result = await ds.execute(1791, {"Part_No": "does-not-exist"})
    assert result.rows == []
    assert fault.hits == 2
    assert len(sleeps.waits) == 2
