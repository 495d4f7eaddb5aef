"""AsyncPlexClient under faults: 429s, 5xx bursts and the breaker, timeouts that split windows, broken streams,
and the rate limit (virtual time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from plex_cognite.errors import PlexAPIError, SourceError
from plex_cognite.plex import AsyncPlexClient, Window
from plex_cognite.resilience import BreakerState, CircuitBreaker, ManualClock, RetryPolicy, TokenBucketRateLimiter
from plex_cognite.testing._faults import Fault
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant, dead_letter_reason
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


@pytest.fixture(autouse=True)
def every_request_matches_the_openapi(transport: RecordingTransport, fake: FakePlex) -> Iterator[None]:
    yield
    for sent_request in connect_requests(transport, fake):
        validate_httpx_request(sent_request)


def _sent(transport: RecordingTransport, fake: FakePlex, path_part: str) -> int:
    # Counted client-side: the fake logs a slow request only once it answers, after the client gave up on it.
    return sum(1 for request in connect_requests(transport, fake) if path_part in request.url.path)


def _state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


async def _all(batches: Any) -> list[Any]:
    return [record async for batch in batches for record in batch]


async def test_429_with_retry_after_waits_as_told(
    make_client: ClientFactory, fake: FakePlex, plant: SimulatedPlant, sleeps: SleepRecorder
) -> None:
    fake.inject(Fault("status", status=429, retry_after="7", path=r"^/scheduling/v1/jobs$", times=2))
    async with make_client() as plex:
        jobs = await _all(plex.iter_jobs(PCN))
    assert len(jobs) == len([row for row in plant.jobs() if dead_letter_reason("jobs", row) is None])
    assert fake.request_counts(path="/scheduling/v1/jobs") == 3
    assert len(sleeps.waits) == 2
    assert all(wait >= 7 for wait in sleeps.waits)


async def test_429_without_retry_after_backs_off_and_does_not_trip_the_breaker(
    make_client: ClientFactory, fake: FakePlex, sleeps: SleepRecorder
) -> None:
    breaker = CircuitBreaker("plex-test", failure_threshold=2)
    fake.inject(Fault("status", status=429, path=r"^/mdm/v1/parts$", times=3))
    async with make_client(breaker=breaker) as plex:
        parts = await _all(plex.iter_parts(PCN))
    assert parts
    assert len(sleeps.waits) == 3
    assert all(0 < wait < 7 for wait in sleeps.waits)
    assert breaker.state is BreakerState.CLOSED


async def test_5xx_burst_opens_the_breaker_then_half_open_trial_recovers(
    make_client: ClientFactory, fake: FakePlex
) -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("plex-test", failure_threshold=3, reset_timeout_s=30, clock=clock)
    retry = RetryPolicy(max_attempts=3, initial_wait_s=0.01, clock=clock, async_sleep=clock.async_sleep)
    fake.inject(Fault("status", status=503, path=r"^/mdm/v1/buildings$", times=3))
    async with make_client(breaker=breaker, retry=retry) as plex:
        with pytest.raises(PlexAPIError) as info:
            await _all(plex.iter_buildings(PCN))
        assert info.value.status == 503
        assert _state(breaker) is BreakerState.OPEN
        opened_at = clock()
        # The next call meets the open breaker, waits (virtually) for it, and its half-open trial succeeds.
        buildings = await _all(plex.iter_buildings(PCN))
    assert buildings
    assert _state(breaker) is BreakerState.CLOSED
    assert clock() - opened_at >= 30
    assert fake.request_counts(path="/mdm/v1/buildings") == 4  # no request went out while the breaker was open


async def test_dropped_connection_is_retried(make_client: ClientFactory, fake: FakePlex, sleeps: SleepRecorder) -> None:
    fake.inject(Fault("drop", path=r"^/production/v1/production-definitions/workcenters$", times=1))
    async with make_client() as plex:
        workcenters = await _all(plex.iter_workcenters(PCN))
    assert workcenters
    assert len(sleeps.waits) == 1


async def test_a_window_that_times_out_is_split_in_half_and_nothing_is_lost(
    make_client: ClientFactory, fake: FakePlex, plant: SimulatedPlant, transport: RecordingTransport
) -> None:
    start = plant.start
    end = start + timedelta(days=1)
    fake.inject(Fault("latency", delay_s=1.0, path=r"production-entries", times=1))
    async with make_client(settings_for(fake, timeout_s=0.3, min_window_s=3600, max_concurrency=1)) as plex:
        batches = [batch async for batch in plex.iter_production_windows(PCN, start, end, timedelta(days=1))]
    windows = [batch.window for batch in batches if batch.complete]
    assert windows == list(Window(start, end).split())
    records = [record for batch in batches for record in batch.records]
    expected = [row for row in plant.production_entries(start, end) if dead_letter_reason("production", row) is None]
    assert len(records) == len(expected)
    assert _sent(transport, fake, "production-entries") == 3


async def test_splitting_stops_at_the_minimum_window_and_then_retries(
    make_client: ClientFactory,
    fake: FakePlex,
    plant: SimulatedPlant,
    sleeps: SleepRecorder,
    transport: RecordingTransport,
) -> None:
    start = plant.start
    fake.inject(Fault("latency", delay_s=1.0, path=r"production-entries", times=3))
    settings = settings_for(fake, timeout_s=0.3, min_window_s=1800, max_concurrency=1)
    async with make_client(settings) as plex:
        windows = [
            batch.window
            async for batch in plex.iter_production_windows(PCN, start, start + timedelta(hours=1), timedelta(hours=1))
            if batch.complete
        ]
    # 1 h timed out -> two 30 min halves (the minimum); the first half timed out twice more and was retried.
    assert windows == list(Window(start, start + timedelta(hours=1)).split())
    assert len(sleeps.waits) == 2
    assert _sent(transport, fake, "production-entries") == 5


async def test_a_stream_broken_mid_body_is_read_again(
    fake: FakePlex, plant: SimulatedPlant, make_client: ClientFactory
) -> None:
    class BreakOnce(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()
            self.broken = False

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if self.broken or not request.url.path.endswith("/jobs"):
                return response
            self.broken = True
            body = await response.aread()

            async def truncated() -> Any:
                yield body[: len(body) // 2]
                raise httpx.ReadError("connection reset mid-body")

            return httpx.Response(response.status_code, headers=response.headers, content=truncated())

    async with make_client(transport=BreakOnce(), batch_size=20) as plex:
        ids = [job.id async for batch in plex.iter_jobs(PCN) for job in batch]
    valid = [row["id"] for row in plant.jobs() if dead_letter_reason("jobs", row) is None]
    assert set(ids) == set(valid)
    assert ids[-len(valid) :] == valid  # the full second read, after the partial first one


async def test_a_stream_that_keeps_breaking_gives_up_with_a_source_error(
    fake: FakePlex, make_client: ClientFactory
) -> None:
    class AlwaysBreak(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            async def broken() -> Any:
                yield b'[{"id": "a"}, '
                raise httpx.ReadError("reset")

            return httpx.Response(200, content=broken())

    async with make_client(transport=AlwaysBreak()) as plex:
        with pytest.raises(SourceError, match="broke 3 times mid-body"):
            await _all(plex.iter_buildings(PCN))


class AdmissionLog:
    """Wraps a limiter and records the (virtual) time and key of every admission."""

    def __init__(self, inner: TokenBucketRateLimiter, clock: ManualClock) -> None:
        self.inner = inner
        self.clock = clock
        self.admitted: list[tuple[float, str]] = []

    async def acquire(self, key: str = "default", cost: float = 1.0) -> None:
        await self.inner.acquire(key, cost)
        self.admitted.append((self.clock(), key))


async def test_rate_limiter_holds_200_calls_per_minute(
    make_client: ClientFactory, fake: FakePlex, plant: SimulatedPlant
) -> None:
    clock = ManualClock()
    limiter = AdmissionLog(
        TokenBucketRateLimiter(rate_per_minute=200, burst=5, clock=clock, sleep=clock.async_sleep), clock
    )
    calls = 260
    span = plant.end - plant.start
    async with make_client(settings_for(fake, max_concurrency=8), rate_limiter=limiter) as plex:
        complete = 0
        async for batch in plex.iter_production_windows(PCN, plant.start, plant.end, span / calls):
            complete += batch.complete
    assert complete == calls
    times = sorted(moment for moment, _ in limiter.admitted)
    assert len(times) == calls
    for index, moment in enumerate(times):
        in_minute = sum(1 for other in times[index:] if other < moment + 60)
        assert in_minute <= 200 + 5
    assert times[-1] - times[0] >= (calls - 5) / 200 * 60 * 0.99


async def test_limiter_buckets_are_per_api_key_by_default_or_per_pcn(
    make_client: ClientFactory, fake: FakePlex
) -> None:
    clock = ManualClock()
    for scope, expected_keys in (("api_key", 1), ("pcn", 2)):
        limiter = AdmissionLog(
            TokenBucketRateLimiter(rate_per_minute=10_000, clock=clock, sleep=clock.async_sleep), clock
        )
        async with make_client(rate_limiter=limiter, limit_scope=scope) as plex:
            await _all(plex.iter_buildings(PCN))
            await _all(plex.iter_buildings(OTHER_PCN))
        keys = {key for _, key in limiter.admitted}
        assert len(keys) == expected_keys
        assert not any(fake.api_key in key for key in keys)


async def test_default_policies_come_from_settings(fake: FakePlex) -> None:
    async with AsyncPlexClient(settings_for(fake, http2=True)) as plex:
        assert await _all(plex.iter_buildings(PCN))


async def test_metrics_count_requests_records_dead_letters_and_retries(fake: FakePlex, plant: SimulatedPlant) -> None:
    from plex_cognite.observability.metrics import ExtractorMetrics

    metrics = ExtractorMetrics()
    fake.inject(Fault("status", status=503, path=r"^/scheduling/v1/jobs$", times=1))
    settings = settings_for(fake, retry={"initial_wait_s": 0.001, "max_wait_s": 0.01})
    async with AsyncPlexClient(settings, metrics=metrics) as plex:
        jobs = await _all(plex.iter_jobs(PCN))
        await _all(plex.iter_job_operations(PCN, jobs[0].id))
    endpoint = "/scheduling/v1/jobs"
    assert metrics.value("requests_total", api="plex", endpoint=endpoint, status="503") == 1
    assert metrics.value("requests_total", api="plex", endpoint=endpoint, status="200") == 1
    assert metrics.value("requests_total", api="plex", endpoint=endpoint + "/{id}/operations", status="200") == 1
    assert metrics.value("retries_total", api="plex") == 1
    assert metrics.value("records_read_total", pcn=PCN, stream="jobs") == len(jobs)
    bad = [row for row in plant.jobs() if dead_letter_reason("jobs", row)]
    assert sum(
        metrics.value("dead_letters_total", pcn=PCN, stream="jobs", reason_kind=kind)
        for kind in ("missing_field", "invalid_datetime", "invalid_number")
    ) == len(bad)


async def test_an_error_in_one_half_of_a_split_window_surfaces_as_itself(
    make_client: ClientFactory, fake: FakePlex, plant: SimulatedPlant
) -> None:
    fake.inject(Fault("latency", delay_s=1.0, path=r"production-entries", times=1))
    fake.inject(Fault("status", status=404, path=r"production-entries", times=2))
    settings = settings_for(fake, timeout_s=0.3, min_window_s=60, max_concurrency=1)
    async with make_client(settings) as plex:
        with pytest.raises(PlexAPIError) as info:
            await _all(plex.iter_production_entries(PCN, plant.start, plant.start + timedelta(hours=2)))
    assert info.value.status == 404


async def test_a_window_too_large_to_buffer_is_split(
    make_client: ClientFactory, fake: FakePlex, plant: SimulatedPlant, transport: RecordingTransport
) -> None:
    start, end = plant.start, plant.start + timedelta(days=1)
    async with make_client(max_window_bytes=40_000) as plex:
        batches = [batch async for batch in plex.iter_production_windows(PCN, start, end, timedelta(days=1))]
    windows = [batch.window for batch in batches if batch.complete]
    assert len(windows) > 1
    assert windows[0].start == start
    assert windows[-1].end == end
    expected = [row for row in plant.production_entries(start, end) if dead_letter_reason("production", row) is None]
    assert sum(len(batch.records) for batch in batches) == len(expected)


async def test_rows_outside_the_window_are_dropped_not_duplicated(make_client: ClientFactory, fake: FakePlex) -> None:
    rows = [
        {"workcenterId": "w", "transactionDate": "2025-01-01T00:00:00Z", "quantity": 1},  # == start: kept
        {"workcenterId": "w", "transactionDate": "2025-01-01T12:00:00Z", "quantity": 2},
        {"workcenterId": "w", "transactionDate": "2025-01-02T00:00:00Z", "quantity": 3},  # == end: next window's
        {"workcenterId": "w", "transactionDate": "2024-12-31T23:59:59Z", "quantity": 4},  # before start
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=rows)

    start = datetime(2025, 1, 1, tzinfo=UTC)
    async with make_client(transport=httpx.MockTransport(answer)) as plex:
        batches = [batch async for batch in plex.iter_production_windows(PCN, start, start + timedelta(days=1))]
    assert [record.quantity for batch in batches for record in batch.records] == [1, 2]
