"""Fixtures shared by the cache tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plex_cognite.testing.redis import RedisServer


@pytest.fixture
def own_server(redis_server: RedisServer) -> Iterator[RedisServer]:
    """A private redis-server that a test may kill, pause and restart without disturbing the session one.

    Asking for `redis_server` first gives the same skip (or, in CI, failure) when redis-server is missing.
    """
    with RedisServer() as server:
        yield server
