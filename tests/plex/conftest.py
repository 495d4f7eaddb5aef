"""Fixtures for the Plex client tests: two plants behind one FakePlex, a recording transport, fast policies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from plex_cognite.config import DataSourceSettings, PlexSettings
from plex_cognite.core.results import DeadLetter
from plex_cognite.plex import AsyncPlexClient
from plex_cognite.resilience import CircuitBreaker, RetryPolicy
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant

PCN = "340884"
OTHER_PCN = "310507"
SIZE = PlantSize(jobs=300, production_entries=1_500, scrap_entries=150, workcenter_status_entries=400, history_days=6)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, with every request kept for validation against the OpenAPI file."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class SleepRecorder:
    """An async sleep that returns at once and remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def plant() -> SimulatedPlant:
    return SimulatedPlant(seed=7, pcn=PCN, size=SIZE)


@pytest.fixture(scope="module")
def other_plant() -> SimulatedPlant:
    return SimulatedPlant(seed=8, pcn=OTHER_PCN, size=SIZE)


@pytest.fixture
def fake(plant: SimulatedPlant, other_plant: SimulatedPlant) -> Iterator[FakePlex]:
    with FakePlex([plant, other_plant]) as server:
        yield server


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def letters() -> list[DeadLetter]:
    return []


def settings_for(fake: FakePlex, **overrides: Any) -> PlexSettings:
    username, password = fake.datasource_credentials()
    values: dict[str, Any] = {
        "base_url": fake.base_url,
        "api_key": fake.api_key,
        "pcns": [PCN, OTHER_PCN],
        "rate_limit_per_minute": 10_000,
        "rate_limit_burst": 10_000,
        "timeout_s": 10.0,
        "http2": False,
        "datasource": DataSourceSettings(base_url=fake.datasource_url, username=username, password=password),
    }
    values.update(overrides)
    return PlexSettings(**values)


ClientFactory = Callable[..., AsyncPlexClient]


@pytest.fixture
def make_client(
    fake: FakePlex, transport: RecordingTransport, sleeps: SleepRecorder, letters: list[DeadLetter]
) -> ClientFactory:
    """Build a client on FakePlex with a recording transport, instant retry sleeps, and dead letters collected."""

    def build(settings: PlexSettings | None = None, **kwargs: Any) -> AsyncPlexClient:
        kwargs.setdefault("transport", transport)
        kwargs.setdefault("on_dead_letter", letters.append)
        kwargs.setdefault("retry", RetryPolicy(max_attempts=4, initial_wait_s=0.01, max_wait_s=60, async_sleep=sleeps))
        kwargs.setdefault("breaker", CircuitBreaker("plex-test", failure_threshold=50))
        return AsyncPlexClient(settings or settings_for(fake), **kwargs)

    return build


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[AsyncPlexClient]:
    async with make_client() as plex:
        yield plex


def connect_requests(transport: RecordingTransport, fake: FakePlex) -> list[httpx.Request]:
    """The recorded requests that went to the Connect API (not the Data Source API)."""
    return [r for r in transport.requests if str(r.url).startswith(fake.base_url)]
