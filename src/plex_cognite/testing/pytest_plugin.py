"""pytest fixtures for plex-cognite users, registered through the `pytest11` entry point.

Install plex-cognite and the fixtures below are available in any test suite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from plex_cognite.testing.redis import RedisServer, find_redis_server

# --- redis --- (owned by the cache work)

#: Values of $CI that mean "we are in CI": there a missing redis-server fails the Redis tests instead of skipping.
_CI_FALSE = frozenset({"", "0", "false", "no", "off"})


def _redis_missing(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() not in _CI_FALSE:
        pytest.fail(f"{reason}; CI must run the Redis tests: apt-get install -y redis-server", pytrace=False)
    pytest.skip(f"{reason}; install it (apt-get install redis-server, brew install redis) to run the Redis tests")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real `redis-server` on a free 127.0.0.1 port for the whole session (nothing persisted to disk).

    Skipped, with the reason shown, when `redis-server` is not installed (PATH or $PLEX_COGNITE_REDIS_SERVER);
    a failure instead when $CI is set (CI must not silently skip the Redis tests). Tests that stop or kill the
    server should use their own `RedisServer` (or call `start()` again; `redis_url` does).
    """
    if find_redis_server() is None:
        _redis_missing("redis-server is not installed")
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's `redis_server`, emptied (FLUSHALL) for this test and restarted if it was stopped."""
    redis_server.start()
    redis_server.flushall()
    return redis_server.url


# --- fake_cdf --- (owned by the FakeCDF work)


if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient, CogniteClient

    from plex_cognite.testing.fake_cdf import FakeCDF


@pytest.fixture
def fake_cdf() -> Iterator[FakeCDF]:
    """A started `FakeCDF` (project "test-project", token "test-token") for one test, stopped afterwards."""
    from plex_cognite.testing.fake_cdf import FakeCDF

    with FakeCDF() as cdf:
        yield cdf


@pytest.fixture
def cognite_client(fake_cdf: FakeCDF) -> CogniteClient:
    """A real sync `CogniteClient` talking to the `fake_cdf` fixture."""
    from cognite.client import global_config

    global_config.disable_pypi_version_check = True
    return fake_cdf.cognite_client()


@pytest.fixture
def async_cognite_client(fake_cdf: FakeCDF) -> AsyncCogniteClient:
    """A real `AsyncCogniteClient` talking to the `fake_cdf` fixture."""
    from cognite.client import global_config

    global_config.disable_pypi_version_check = True
    return fake_cdf.async_cognite_client()


# --- fake_plex --- (owned by the FakePlex / SimulatedPlant work)


if TYPE_CHECKING:
    from plex_cognite.testing.fake_plex import FakePlex
    from plex_cognite.testing.plant import SimulatedPlant


@pytest.fixture
def simulated_plant() -> SimulatedPlant:
    """A small `SimulatedPlant` (seed 0, PCN 340884): a dozen workcenters, every awkward case included."""
    from plex_cognite.testing.plant import SimulatedPlant

    return SimulatedPlant(seed=0, pcn="340884", size="small")


@pytest.fixture
def fake_plex(simulated_plant: SimulatedPlant) -> Iterator[FakePlex]:
    """A started `FakePlex` serving `simulated_plant` (API key "test-key"), stopped afterwards.

    Point a client at `fake_plex.base_url` with `fake_plex.headers()`, and at `fake_plex.datasource_url` with
    `fake_plex.datasource_credentials()` for the Data Source API. Override `simulated_plant` to serve another plant.
    """
    from plex_cognite.testing.fake_plex import FakePlex

    with FakePlex(simulated_plant) as plex:
        yield plex
