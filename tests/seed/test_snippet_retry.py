"""Quick Start, retry: `@with_retry(max_attempts=3, initial_delay=1.0)` and `RetryHandler`, as users write them.

The snippets fetch Plex buildings from a FakePlex that answers 503 twice. No test sleeps for real: `asyncio.sleep`
and `time.sleep` (which the default policy looks up at call time) are replaced by recorders.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from plex_cognite.resilience import last_retry_statistics
from plex_cognite.testing import Fault
from plex_cognite.testing.fake_plex import FakePlex

BUILDINGS = r"^/mdm/v1/buildings$"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the retry policy takes, recorded instead of slept."""
    recorded: list[float] = []
    real_async_sleep = asyncio.sleep

    async def recording_async_sleep(delay: float, result: Any = None) -> Any:
        if delay > 0:
            recorded.append(delay)
        await real_async_sleep(0)
        return result

    def recording_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(asyncio, "sleep", recording_async_sleep)
    monkeypatch.setattr(time, "sleep", recording_sleep)
    return recorded


@pytest.fixture
def flaky_plex(fake_plex: FakePlex) -> FakePlex:
    """FakePlex answering 503 Service Unavailable to the first two building requests."""
    fake_plex.inject(Fault("status", status=503, path=BUILDINGS, times=2))
    return fake_plex


async def test_with_retry_snippet_retries_an_async_fetch_and_waits_initial_delay_first(
    flaky_plex: FakePlex, waits: list[float]
) -> None:
    # --- the user's snippet ---
    from plex_cognite import with_retry

    @with_retry(max_attempts=3, initial_delay=1.0)
    async def fetch_buildings(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        response = await client.get("/mdm/v1/buildings")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    # --- end of snippet ---
    async with httpx.AsyncClient(base_url=flaky_plex.base_url, headers=flaky_plex.headers()) as client:
        buildings = await fetch_buildings(client)

    assert len(buildings) > 0
    assert flaky_plex.log.count("GET", "/mdm/v1/buildings") == 3
    stats = last_retry_statistics()
    assert stats is not None
    assert (stats.attempts, stats.succeeded) == (3, True)
    assert len(waits) == 2
    first, second = waits
    assert 1.0 <= first <= 1.5  # initial_delay is the first wait; jitter only adds to it
    assert 2.0 <= second <= 3.0  # then it doubles
    assert stats.total_sleep_s == pytest.approx(first + second)


async def test_with_retry_gives_up_after_max_attempts_with_the_last_error(
    fake_plex: FakePlex, waits: list[float]
) -> None:
    fake_plex.inject(Fault("status", status=503, path=BUILDINGS))

    from plex_cognite import with_retry

    @with_retry(max_attempts=3, initial_delay=1.0)
    async def fetch_buildings(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        response = await client.get("/mdm/v1/buildings")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async with httpx.AsyncClient(base_url=fake_plex.base_url, headers=fake_plex.headers()) as client:
        with pytest.raises(httpx.HTTPStatusError) as raised:
            await fetch_buildings(client)
    assert raised.value.response.status_code == 503
    assert fake_plex.log.count("GET", "/mdm/v1/buildings") == 3
    assert len(waits) == 2


async def test_retry_handler_snippet_as_a_decorator_and_with_acall(flaky_plex: FakePlex, waits: list[float]) -> None:
    # --- the user's snippet ---
    from plex_cognite import RetryHandler

    handler = RetryHandler(max_attempts=5, initial_delay=0.5, max_delay=30.0)

    @RetryHandler(max_attempts=5, initial_delay=0.5, max_delay=30.0)
    async def fetch_buildings(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        response = await client.get("/mdm/v1/buildings")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def fetch_parts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        response = await client.get("/mdm/v1/parts")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    # --- end of snippet ---
    async with httpx.AsyncClient(base_url=flaky_plex.base_url, headers=flaky_plex.headers()) as client:
        buildings = await fetch_buildings(client)
        flaky_plex.inject(Fault("status", status=503, path=r"^/mdm/v1/parts$", times=1))
        parts = await handler.acall(fetch_parts, client)

    assert buildings
    assert parts
    assert flaky_plex.log.count("GET", "/mdm/v1/buildings") == 3
    assert flaky_plex.log.count("GET", "/mdm/v1/parts") == 2
    assert 0.5 <= waits[0] <= 0.75
    assert 1.0 <= waits[1] <= 1.5
    assert 0.5 <= waits[2] <= 0.75  # handler.acall: a fresh call starts again at initial_delay
    assert handler.totals.retries == 1


def test_retry_handler_on_a_sync_function_with_call(flaky_plex: FakePlex, waits: list[float]) -> None:
    from plex_cognite import RetryHandler

    handler = RetryHandler(max_attempts=5, initial_delay=0.5, max_delay=30.0)

    def fetch_buildings(client: httpx.Client) -> list[dict[str, Any]]:
        response = client.get("/mdm/v1/buildings")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    with httpx.Client(base_url=flaky_plex.base_url, headers=flaky_plex.headers()) as client:
        assert handler.call(fetch_buildings, client)
    assert flaky_plex.log.count("GET", "/mdm/v1/buildings") == 3
    assert [round(w, 6) >= floor for w, floor in zip(waits, (0.5, 1.0), strict=True)] == [True, True]


async def test_small_real_delays_actually_pass(fake_plex: FakePlex) -> None:
    """The same decorator with no recorders: it really waits (briefly) and succeeds."""
    fake_plex.inject(Fault("status", status=503, path=BUILDINGS, times=2))
    from plex_cognite import with_retry

    @with_retry(max_attempts=3, initial_delay=0.01, max_delay=0.05)
    async def fetch_buildings(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        response = await client.get("/mdm/v1/buildings")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async with httpx.AsyncClient(base_url=fake_plex.base_url, headers=fake_plex.headers()) as client:
        started = time.monotonic()
        assert await fetch_buildings(client)
        elapsed = time.monotonic() - started
    stats = last_retry_statistics()
    assert stats is not None
    assert stats.attempts == 3
    assert elapsed >= 0.01 + 0.02  # at least initial_delay, then twice that


def test_with_retry_snippet_on_a_sync_function(flaky_plex: FakePlex, waits: list[float]) -> None:
    from plex_cognite import with_retry

    @with_retry(max_attempts=3, initial_delay=1.0)
    def fetch_buildings(client: httpx.Client) -> list[dict[str, Any]]:
        response = client.get("/mdm/v1/buildings")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    with httpx.Client(base_url=flaky_plex.base_url, headers=flaky_plex.headers()) as client:
        assert fetch_buildings(client)
    assert flaky_plex.log.count("GET", "/mdm/v1/buildings") == 3
    assert 1.0 <= waits[0] <= 1.5
    assert 2.0 <= waits[1] <= 3.0
