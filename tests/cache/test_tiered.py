from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from plex_cognite.cache import CacheStats, MemoryCache, RedisCache, TieredCache
from plex_cognite.testing.redis import RedisServer
from plex_cognite.typing import CacheBackend

from ._helpers import FakeClock


@pytest.fixture
async def parts(redis_url: str) -> AsyncIterator[tuple[TieredCache, MemoryCache, RedisCache, FakeClock]]:
    clock = FakeClock()
    front = MemoryCache(max_size=1000, ttl_s=3600, timer=clock)
    async with RedisCache(redis_url, namespace="tiered", ttl_s=3600, outage_backoff_s=0) as back:
        yield TieredCache(front, back), front, back, clock


def test_is_a_cache_backend() -> None:
    assert isinstance(TieredCache(MemoryCache(), MemoryCache()), CacheBackend)


async def test_writes_go_through_to_both_tiers(parts: tuple[TieredCache, MemoryCache, RedisCache, FakeClock]) -> None:
    tiered, front, back, _ = parts
    await tiered.set_many({"a": 1, "b": [2]})
    assert await front.get_many(["a", "b"]) == {"a": 1, "b": [2]}
    assert await back.get_many(["a", "b"]) == {"a": 1, "b": [2]}


async def test_a_front_miss_is_read_from_the_back_and_filled_into_the_front(
    parts: tuple[TieredCache, MemoryCache, RedisCache, FakeClock],
) -> None:
    tiered, front, back, _ = parts
    await back.set_many({"from-another-worker": 99})
    await tiered.set_many({"local": 1})

    assert await tiered.get_many(["local", "from-another-worker", "nowhere"]) == {"local": 1, "from-another-worker": 99}
    assert await front.get_many(["from-another-worker"]) == {"from-another-worker": 99}
    assert tiered.stats.hits == 2
    assert tiered.stats.misses == 1
    tiers = tiered.tier_stats
    assert tiers["front"].misses == 2  # from-another-worker and nowhere (the later direct read is a hit)
    assert tiers["back"] == CacheStats(hits=1, misses=1, sets=2)


async def test_a_back_filled_entry_does_not_outlive_its_ttl_in_the_back(
    parts: tuple[TieredCache, MemoryCache, RedisCache, FakeClock],
) -> None:
    tiered, front, back, clock = parts
    await back.set_many({"unknown-asset": None}, ttl=60)  # a short-lived negative entry written by another worker
    assert await tiered.get_many(["unknown-asset"]) == {"unknown-asset": None}
    clock.advance(61)
    assert await front.get_many(["unknown-asset"]) == {}


async def test_deletes_prefixes_and_clear_reach_both_tiers(
    parts: tuple[TieredCache, MemoryCache, RedisCache, FakeClock],
) -> None:
    tiered, front, back, _ = parts
    await tiered.set_many({"PCN1_a": 1, "PCN1_b": 2, "PCN2_a": 3, "x": 4})
    await tiered.delete_many(["x"])
    assert await tiered.delete_prefix("PCN1_") == 2
    for tier in (front, back):
        assert await tier.get_many(["PCN1_a", "PCN1_b", "PCN2_a", "x"]) == {"PCN2_a": 3}
    await tiered.clear()
    assert await front.get_many(["PCN2_a"]) == {}
    assert await back.get_many(["PCN2_a"]) == {}


async def test_warm_front_loads_keys_from_the_back(
    parts: tuple[TieredCache, MemoryCache, RedisCache, FakeClock],
) -> None:
    tiered, front, back, _ = parts
    await back.set_many({f"k{i}": i for i in range(10)})
    assert await tiered.warm_front([f"k{i}" for i in range(20)]) == 10
    assert len(front) == 10


async def test_a_redis_outage_leaves_the_front_working(own_server: RedisServer) -> None:
    front = MemoryCache(max_size=100)
    async with RedisCache(own_server.url, namespace="t", outage_backoff_s=0) as back:
        tiered = TieredCache(front, back)
        await tiered.set_many({"a": 1})

        own_server.kill()
        assert await tiered.get_many(["a", "b"]) == {"a": 1}
        await tiered.set_many({"c": 3})
        assert await tiered.get_many(["c"]) == {"c": 3}
        assert tiered.stats.errors == 2  # the back's read of "b" and its write of "c"

        own_server.restart()
        await tiered.set_many({"d": 4})
        await front.clear()
        assert await tiered.get_many(["d", "a"]) == {"d": 4}  # "a" was lost with the server's memory
        assert await front.get_many(["d"]) == {"d": 4}


async def test_a_back_without_ttl_reads_is_back_filled_with_the_front_default() -> None:
    clock = FakeClock()
    front = MemoryCache(max_size=10, ttl_s=10, timer=clock)
    back = MemoryCache(max_size=10, ttl_s=None)
    tiered = TieredCache(front, back)
    await back.set_many({"a": 1})
    assert await tiered.get_many(["a"]) == {"a": 1}
    clock.advance(11)
    assert await front.get_many(["a"]) == {}
    assert await tiered.warm_front(["a", "b"]) == 1
    assert await front.get_many(["a"]) == {"a": 1}
