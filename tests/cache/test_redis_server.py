"""The RedisServer helper and the `redis_server` fixture (plex_cognite.testing.redis, pytest_plugin)."""

from __future__ import annotations

import pytest

from plex_cognite.testing import pytest_plugin
from plex_cognite.testing.redis import RedisServer, RedisServerError, find_redis_server


def test_the_session_server_answers(redis_server: RedisServer) -> None:
    assert redis_server.is_running
    assert redis_server.ping()
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"


def test_kill_then_restart_comes_back_on_the_same_port(own_server: RedisServer) -> None:
    port = own_server.port
    own_server.kill()
    assert not own_server.is_running
    assert not own_server.ping()
    own_server.restart()
    assert own_server.port == port
    assert own_server.ping()


def test_close_stops_the_server_and_removes_its_directory(redis_server: RedisServer) -> None:
    server = RedisServer().start()
    directory = server.directory
    assert (directory / "redis.log").exists()
    server.close()
    assert not server.is_running
    assert not directory.exists()


def test_a_missing_binary_is_reported_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEX_COGNITE_REDIS_SERVER", "/nonexistent/redis-server")
    assert find_redis_server() is None
    with pytest.raises(RedisServerError, match="apt-get install redis-server"):
        RedisServer()


def test_a_missing_server_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server is not installed"):
        pytest_plugin._redis_missing("redis-server is not installed")


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_a_missing_server_fails_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI must run the Redis tests"):
        pytest_plugin._redis_missing("redis-server is not installed")
