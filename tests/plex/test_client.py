"""AsyncPlexClient against FakePlex over real HTTP: every endpoint and record type, auth, tenancy, windows."""

from __future__ import annotations

import asyncio
import importlib.abc
import itertools
import sys
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from plex_cognite.core.results import DeadLetter
from plex_cognite.errors import ConfigurationError, PlexAPIError, SourceError
from plex_cognite.plex import PATHS, AsyncPlexClient, Window
from plex_cognite.plex.models import PlexRecord, ProductionEntry
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant, dead_letter_reason
from tests._openapi import validate_httpx_request
from tests.plex.conftest import OTHER_PCN, PCN, ClientFactory, RecordingTransport, connect_requests, settings_for


@pytest.fixture(autouse=True)
def every_request_matches_the_openapi(transport: RecordingTransport, fake: FakePlex) -> Iterator[None]:
    """After each test, validate every Connect request the client sent (path, query, headers) against the spec."""
    yield
    for sent_request in connect_requests(transport, fake):
        validate_httpx_request(sent_request)
        assert "X-Plex-Connect-Api-Key" in sent_request.headers
        assert fake.api_key not in str(sent_request.url)


def _valid(rows: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [row for row in rows if dead_letter_reason(stream, row) is None]


async def _all(batches: Any) -> list[Any]:
    return [record async for batch in batches for record in batch]


@pytest.mark.parametrize(
    ("method", "rows_of", "key"),
    [
        ("iter_buildings", lambda p: p.buildings(), "id"),
        ("iter_workcenters", lambda p: p.workcenters(), "workcenter_id"),
        ("iter_parts", lambda p: list(p.parts()), "id"),
        ("iter_containers", lambda p: list(p.containers()), "serial_no"),
    ],
)
async def test_master_data_streams_match_the_plant(
    client: AsyncPlexClient, plant: SimulatedPlant, method: str, rows_of: Any, key: str
) -> None:
    records = await _all(getattr(client, method)(PCN))
    rows = rows_of(plant)
    assert len(records) == len(rows)
    assert [record.model_dump(by_alias=True, mode="json")[_camel(key)] for record in records] == [
        row[_camel(key)] for row in rows
    ]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def test_jobs_stream_in_bounded_batches_and_bad_rows_become_dead_letters(
    make_client: ClientFactory, plant: SimulatedPlant, letters: list[DeadLetter]
) -> None:
    async with make_client(batch_size=64) as plex:
        batches = [batch async for batch in plex.iter_jobs(PCN)]
    assert all(0 < len(batch) <= 64 for batch in batches)
    rows = list(plant.jobs())
    assert [job.id for batch in batches for job in batch] == [row["id"] for row in _valid(rows, "jobs")]
    expected_letters = [row for row in rows if dead_letter_reason("jobs", row)]
    assert [letter.payload for letter in letters] == expected_letters
    assert {letter.stream for letter in letters} == {"jobs"}


async def test_job_filters_and_operations(client: AsyncPlexClient, plant: SimulatedPlant) -> None:
    released = await _all(client.iter_jobs(PCN, statuses=["Released", "Open"]))
    assert released
    assert {job.job_status for job in released} <= {"Released", "Open"}
    job_id = released[0].id
    operations = await _all(client.iter_job_operations(PCN, job_id))
    assert [op.job_operation_id for op in operations] == [
        row["jobOperationId"] for row in plant.job_operations(job_id) or []
    ]
    assert all(op.job_id == job_id for op in operations)
    statuses = await client.list_workcenter_statuses(PCN)
    assert [status.id for status in statuses] == [row["id"] for row in plant.workcenter_statuses()]


@pytest.mark.parametrize(
    ("method", "stream", "rows_of", "time_field"),
    [
        ("iter_production_windows", "production", SimulatedPlant.production_entries, "transaction_date"),
        ("iter_scrap_windows", "scrap", SimulatedPlant.scrap_entries, "transaction_date"),
        ("iter_workcenter_status_windows", "workcenter_status", SimulatedPlant.workcenter_status_entries, "log_date"),
    ],
)
async def test_history_windows_arrive_in_order_and_cover_the_range_once(
    client: AsyncPlexClient, plant: SimulatedPlant, method: str, stream: str, rows_of: Any, time_field: str
) -> None:
    start, end = plant.start + timedelta(hours=5), plant.end - timedelta(hours=7)
    batches = [batch async for batch in getattr(client, method)(PCN, start, end, timedelta(hours=12))]
    complete = [batch.window for batch in batches if batch.complete]
    assert complete[0].start == start
    assert complete[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(complete))
    for batch in batches:
        assert all(batch.window.contains(getattr(record, time_field)) for record in batch.records)
        assert batch.pcn == PCN
    records = [record for batch in batches for record in batch.records]
    expected = _valid(list(rows_of(plant, start, end)), stream)
    assert len(records) == len(expected)
    assert [getattr(r, time_field) for r in records] == sorted(getattr(r, time_field) for r in records)


async def test_flat_history_iterators_yield_the_same_records(client: AsyncPlexClient, plant: SimulatedPlant) -> None:
    start, end = plant.start, plant.start + timedelta(days=2)
    flat = await _all(client.iter_production_entries(PCN, start, end, window=timedelta(hours=6)))
    scrap = await _all(client.iter_scrap_entries(PCN, start, end))
    status = await _all(client.iter_workcenter_status_entries(PCN, start, end))
    assert len(flat) == len(_valid(list(plant.production_entries(start, end)), "production"))
    assert len(scrap) == len(_valid(list(plant.scrap_entries(start, end)), "scrap"))
    assert len(status) == len(_valid(list(plant.workcenter_status_entries(start, end)), "workcenter_status"))


async def test_windows_are_fetched_concurrently_but_delivered_in_order(
    make_client: ClientFactory, fake: FakePlex, plant: SimulatedPlant
) -> None:
    from plex_cognite.testing._faults import Fault

    # The first window is slow; later windows finish first but must still come after it.
    first = Window(plant.start, plant.start + timedelta(hours=6))
    fake.inject(Fault("latency", delay_s=0.4, path=r"production-entries", times=1))
    async with make_client(settings_for(fake, max_concurrency=4)) as plex:
        windows = [
            batch.window
            async for batch in plex.iter_production_windows(
                PCN, plant.start, plant.start + timedelta(days=1), timedelta(hours=6)
            )
            if batch.complete
        ]
    assert windows[0] == first
    assert windows == sorted(windows)
    durations = [record.duration_s for record in fake.request_log if "production-entries" in record.path]
    assert len(durations) == 4
    assert sum(durations) > 0.4  # the slow one really was slow, yet the run did not wait 4 x 0.4 s serially


async def test_each_pcn_gets_its_own_data_and_tenant_header(
    make_client: ClientFactory,
    fake: FakePlex,
    plant: SimulatedPlant,
    other_plant: SimulatedPlant,
    transport: RecordingTransport,
) -> None:
    settings = settings_for(fake, tenant_ids={OTHER_PCN: other_plant.tenant_id})
    async with make_client(settings) as plex:
        mine = await _all(plex.iter_workcenters(PCN))
        theirs = await _all(plex.iter_workcenters(OTHER_PCN))
    assert [w.workcenter_id for w in mine] == [row["workcenterId"] for row in plant.workcenters()]
    assert [w.workcenter_id for w in theirs] == [row["workcenterId"] for row in other_plant.workcenters()]
    assert not {w.workcenter_id for w in mine} & {w.workcenter_id for w in theirs}
    first, second = connect_requests(transport, fake)
    assert first.headers["X-Plex-Connect-Customer-Id"] == PCN
    assert "X-Plex-Connect-Tenant-Id" not in first.headers
    assert second.headers["X-Plex-Connect-Tenant-Id"] == other_plant.tenant_id
    assert "X-Plex-Connect-Customer-Id" not in second.headers


async def test_a_pcn_that_is_not_configured_is_refused_before_any_request(
    client: AsyncPlexClient, fake: FakePlex
) -> None:
    with pytest.raises(ConfigurationError, match=r"PCN '999999' is not configured; add it to plex\.pcns"):
        await _all(client.iter_buildings("999999"))
    assert fake.request_counts() == 0


async def test_a_wrong_key_fails_at_once_with_a_clear_message(make_client: ClientFactory, fake: FakePlex) -> None:
    secret = "not-the-key-4f1c9a"
    async with make_client(settings_for(fake, api_key=secret)) as plex:
        with pytest.raises(PlexAPIError) as info:
            await _all(plex.iter_parts(PCN))
    error = info.value
    assert error.status == 401
    assert error.code == "REQUEST_NOT_AUTHENTICATED"
    assert "may have expired" in str(error)
    assert "not entitled to PCN 340884" in str(error)
    assert secret not in str(error)
    assert secret not in repr(error.errors)
    assert fake.request_counts() == 1  # 401 is not retried


async def test_unknown_job_is_a_404_without_retries(client: AsyncPlexClient, fake: FakePlex) -> None:
    with pytest.raises(PlexAPIError) as info:
        await _all(client.iter_job_operations(PCN, "00000000-0000-4000-8000-000000000000"))
    assert info.value.status == 404
    assert info.value.code == "RESOURCE_NOT_FOUND"
    assert fake.request_counts() == 1


async def test_a_400_keeps_the_plex_errors_list(
    client: AsyncPlexClient, fake: FakePlex, transport: RecordingTransport
) -> None:
    with pytest.raises(PlexAPIError) as info:
        await _all(client.iter_list(PCN, PATHS["production_entries"], ProductionEntry, stream="production"))
    assert info.value.status == 400
    assert info.value.code == "REQUEST_VALIDATION_FAILED"
    assert info.value.errors
    assert fake.request_counts() == 1
    transport.requests.clear()  # this request lacks the required dates on purpose; keep it out of the spec check


async def test_iter_list_reads_any_endpoint_into_any_model(client: AsyncPlexClient, plant: SimulatedPlant) -> None:
    class Tenantish(PlexRecord):
        id: str

    records = await _all(client.iter_list(PCN, "/mdm/v1/buildings", Tenantish, stream="custom"))
    assert [r.id for r in records] == [row["id"] for row in plant.buildings()]


async def test_not_json_array_body_is_a_source_error(make_client: ClientFactory, fake: FakePlex) -> None:
    from plex_cognite.testing._faults import Fault

    fake.inject(Fault("status", status=200, path=r"/mdm/v1/buildings", times=1))
    async with make_client() as plex:
        with pytest.raises(SourceError, match="JSON array"):
            await _all(plex.iter_buildings(PCN))


async def test_using_a_closed_client_says_how_to_open_it(fake: FakePlex) -> None:
    plex = AsyncPlexClient(settings_for(fake))
    with pytest.raises(ConfigurationError, match="async with"):
        await _all(plex.iter_buildings(PCN))
    with pytest.raises(ConfigurationError, match="not open"):
        _ = plex.datasource


async def test_stopping_early_cancels_the_windows_in_flight(client: AsyncPlexClient, plant: SimulatedPlant) -> None:
    from contextlib import aclosing

    async with aclosing(client.iter_production_windows(PCN, plant.start, plant.end, timedelta(hours=1))) as batches:
        async for batch in batches:
            assert batch.records or batch.complete
            break
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert not [task for task in tasks if "_fetch" in repr(task.get_coro())]


class _ImportWatcher(importlib.abc.MetaPathFinder):
    """Remembers every module looked for on `sys.meta_path` (imports of modules not yet in `sys.modules`)."""

    def __init__(self) -> None:
        self.looked_for: list[str] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: object = None) -> None:
        self.looked_for.append(fullname)


async def test_a_request_imports_nothing(client: AsyncPlexClient) -> None:
    # httpcore asks sniffio which event loop runs, several times a request: without sniffio each ask is a failed
    # import searching sys.path (~0.1 ms), about 2% of a big extraction's CPU.
    await _all(client.iter_buildings(PCN))  # the first request may import lazily
    watcher = _ImportWatcher()
    sys.meta_path.insert(0, watcher)
    try:
        buildings = await _all(client.iter_buildings(PCN))
        await _all(client.iter_workcenters(PCN))
    finally:
        sys.meta_path.remove(watcher)
    assert buildings
    assert watcher.looked_for == []
