from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plex_cognite.cache import CacheStats, RedisCache
from plex_cognite.errors import ConfigurationError
from plex_cognite.testing.redis import RedisServer
from plex_cognite.typing import CacheBackend, JSONValue

from ._helpers import FakeClock, json_values, same


@pytest.fixture
async def cache(redis_url: str) -> AsyncIterator[RedisCache]:
    async with RedisCache(redis_url, prefix="pc", namespace="ids", outage_backoff_s=0) as cache:
        yield cache


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def is_degraded(cache: RedisCache) -> bool:
    return cache.degraded  # a call, so mypy does not carry the narrowed value across awaits


def test_is_a_cache_backend() -> None:
    assert isinstance(RedisCache("redis://127.0.0.1:1/0"), CacheBackend)


async def test_values_come_back_and_missing_keys_are_absent(cache: RedisCache) -> None:
    await cache.set_many({"PCN1_PART_1": 7_000_000_000_001, "PCN1_PART_2": "x", "doc": {"a": [1, 2.5, None]}})
    got = await cache.get_many(["PCN1_PART_1", "nope", "doc", "PCN1_PART_2"])
    assert got == {"PCN1_PART_1": 7_000_000_000_001, "PCN1_PART_2": "x", "doc": {"a": [1, 2.5, None]}}
    assert cache.stats == CacheStats(hits=3, misses=1, sets=3)


async def test_keys_are_prefix_namespace_key(cache: RedisCache, raw: redis.asyncio.Redis) -> None:
    await cache.set_many({"PCN1_PART_1": 42})
    assert await raw.keys("*") == [b"pc:ids:PCN1_PART_1"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text(max_size=20), json_values, max_size=20))
async def test_any_json_value_round_trips_exactly_through_redis(cache: RedisCache, items: dict[str, JSONValue]) -> None:
    await cache.set_many(items)
    got = await cache.get_many(list(items))
    assert got.keys() == items.keys()
    assert all(same(got[k], items[k]) for k in items)


async def test_default_and_per_call_ttl_are_set_in_redis(redis_url: str, raw: redis.asyncio.Redis) -> None:
    async with RedisCache(redis_url, namespace="t", ttl_s=3600) as cache:
        await cache.set_many({"long": 1})
        await cache.set_many({"short": 1}, ttl=5)
        await cache.set_many({"gone": 1}, ttl=0)
        assert 3_590_000 < await raw.pttl("plex-cognite:t:long") <= 3_600_000
        assert 4_000 < await raw.pttl("plex-cognite:t:short") <= 5_000
        assert await raw.exists("plex-cognite:t:gone") == 0
        with_ttl = await cache.get_many_with_ttl(["long", "short"])
        assert with_ttl["long"][1] == pytest.approx(3600, abs=10)
        assert with_ttl["short"][1] == pytest.approx(5, abs=1)


async def test_an_entry_expires(cache: RedisCache) -> None:
    await cache.set_many({"a": 1}, ttl=0.05)
    await asyncio.sleep(0.1)
    assert await cache.get_many(["a"]) == {}


async def test_without_a_ttl_keys_do_not_expire(cache: RedisCache, raw: redis.asyncio.Redis) -> None:
    await cache.set_many({"a": 1})
    assert await raw.pttl("pc:ids:a") == -1
    assert await cache.get_many_with_ttl(["a"]) == {"a": (1, None)}


async def test_batches_larger_than_batch_size(redis_url: str) -> None:
    async with RedisCache(redis_url, namespace="b", batch_size=7) as cache:
        items: dict[str, JSONValue] = {f"k{i}": i for i in range(50)}
        await cache.set_many(items)
        assert await cache.get_many([*items, "missing"]) == items
        assert await cache.delete_prefix("k1") == 11  # k1, k10..k19
        await cache.delete_many([f"k{i}" for i in range(20, 50)])
        assert len(await cache.get_many(list(items))) == 50 - 11 - 30


async def test_delete_prefix_treats_glob_characters_literally(cache: RedisCache) -> None:
    await cache.set_many({"a*b": 1, "a*c": 2, "ab": 3, "a?c": 4, "a[1]": 5, "a\\x": 6})
    assert await cache.delete_prefix("a*") == 2
    assert await cache.delete_prefix("a[") == 1
    assert await cache.delete_prefix("a\\") == 1
    assert await cache.get_many(["a*b", "a*c", "ab", "a?c", "a[1]", "a\\x"]) == {"ab": 3, "a?c": 4}


async def test_clear_touches_only_its_own_namespace(redis_url: str, raw: redis.asyncio.Redis) -> None:
    async with (
        RedisCache(redis_url, namespace="mine") as mine,
        RedisCache(redis_url, namespace="other") as other,
        RedisCache(redis_url, prefix="someone-else", namespace="mine") as foreign,
    ):
        await mine.set_many({"a": 1})
        await other.set_many({"a": 2})
        await foreign.set_many({"a": 3})
        await raw.set("unrelated", b"x")
        await mine.clear()
        assert await mine.get_many(["a"]) == {}
        assert await other.get_many(["a"]) == {"a": 2}
        assert await foreign.get_many(["a"]) == {"a": 3}
        assert await raw.get("unrelated") == b"x"


async def test_an_unreadable_entry_is_a_counted_miss(cache: RedisCache, raw: redis.asyncio.Redis) -> None:
    await raw.set("pc:ids:bad", b"?garbage")
    assert await cache.get_many(["bad"]) == {}
    assert cache.stats.errors == 1


async def test_a_client_passed_in_is_used_and_left_open(redis_url: str, raw: redis.asyncio.Redis) -> None:
    async with RedisCache(raw, namespace="c") as cache:
        await cache.set_many({"a": 1})
    assert await raw.get("plex-cognite:c:a") == b"i1"  # still open after the cache closed


def test_non_json_values_raise_before_anything_is_sent() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0")
    with pytest.raises(TypeError):
        asyncio.run(cache.set_many({"a": {1, 2}}))  # type: ignore[dict-item]
    assert cache.stats.errors == 0


@pytest.mark.parametrize("namespace", ["", "a:b"])
def test_a_namespace_with_a_colon_is_refused(namespace: str) -> None:
    with pytest.raises(ConfigurationError, match="namespace"):
        RedisCache("redis://127.0.0.1:1/0", namespace=namespace)


def test_the_url_never_appears_in_the_repr() -> None:
    assert "hunter2" not in repr(RedisCache("redis://user:hunter2@127.0.0.1:1/0"))


# --- outages ---------------------------------------------------------------------------------------------------


async def test_an_outage_degrades_to_misses_and_recovers_when_redis_is_back(own_server: RedisServer) -> None:
    async with RedisCache(own_server.url, namespace="o", outage_backoff_s=0) as cache:
        await cache.set_many({"a": 1})
        assert await cache.get_many(["a"]) == {"a": 1}

        own_server.kill()
        assert await cache.get_many(["a", "b"]) == {}
        await cache.set_many({"c": 3})
        await cache.delete_many(["a"])
        assert await cache.delete_prefix("") == 0
        assert not await cache.ping()
        assert is_degraded(cache)
        assert cache.stats == CacheStats(hits=1, misses=2, sets=1, errors=4)

        own_server.restart()  # same port; the data is gone (nothing persisted)
        assert await cache.ping()
        assert await cache.get_many(["a"]) == {}
        await cache.set_many({"a": 2})
        assert await cache.get_many(["a"]) == {"a": 2}
        assert not is_degraded(cache)
        assert cache.stats.errors == 4


async def test_after_a_failure_redis_is_not_tried_again_until_the_back_off_passed(own_server: RedisServer) -> None:
    clock = FakeClock()
    async with RedisCache(own_server.url, namespace="o", outage_backoff_s=5, clock=clock) as cache:
        own_server.kill()
        assert await cache.get_many(["a"]) == {}
        own_server.restart()
        await cache.set_many({"a": 1})  # skipped: still backing off
        assert await cache.get_many(["a"]) == {}
        assert cache.stats.errors == 3
        clock.advance(5.1)
        await cache.set_many({"a": 1})
        assert await cache.get_many(["a"]) == {"a": 1}
        assert cache.stats.errors == 3


async def test_a_refused_command_fails_that_operation_only_without_backing_off(own_server: RedisServer) -> None:
    clock = FakeClock()
    admin = redis.asyncio.Redis.from_url(own_server.url)
    async with RedisCache(own_server.url, namespace="r", outage_backoff_s=5, clock=clock) as cache:
        await cache.set_many({"a": 1})
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.config_set("maxmemory", "1")  # every write is refused (OOM); reads still work
        try:
            await cache.set_many({"b": 2})
            assert is_degraded(cache)
            assert cache.stats.errors == 1
            # Redis answered, so this is no outage: the next call goes to Redis at once, and its success recovers.
            assert await cache.get_many(["a", "b"]) == {"a": 1}
            assert not is_degraded(cache)
        finally:
            await admin.config_set("maxmemory", "0")
            await admin.aclose()
        await cache.set_many({"b": 2})
        assert await cache.get_many(["b"]) == {"b": 2}
        assert cache.stats.errors == 1


async def test_a_hung_redis_times_out_quickly_and_counts_as_an_outage(own_server: RedisServer) -> None:
    async with RedisCache(own_server.url, namespace="h", socket_timeout_s=0.2, outage_backoff_s=0) as cache:
        await cache.set_many({"a": 1})
        own_server.pause()
        try:
            started = time.monotonic()
            assert await cache.get_many(["a"]) == {}
            assert time.monotonic() - started < 2.0
            assert cache.stats.errors == 1
        finally:
            own_server.resume()
        assert await cache.get_many(["a"]) == {"a": 1}


async def test_redis_that_never_ran_is_a_miss_not_a_failure() -> None:
    async with RedisCache("redis://127.0.0.1:1/0", outage_backoff_s=0) as cache:
        assert await cache.get_many(["a"]) == {}
        await cache.set_many({"a": 1})
        assert cache.stats.errors == 2
