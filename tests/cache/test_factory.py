from __future__ import annotations

import pytest

from plex_cognite.cache import MemoryCache, RedisCache, TieredCache, build_cache
from plex_cognite.config import CacheSettings
from plex_cognite.errors import ConfigurationError


def test_memory_is_the_default() -> None:
    cache = build_cache(CacheSettings(max_size=123, ttl_s=5))
    assert isinstance(cache, MemoryCache)
    assert (cache.max_size, cache.ttl_s) == (123, 5)


def test_redis_uses_the_prefix_namespace_and_ttl() -> None:
    settings = CacheSettings(backend="redis", redis_url="redis://127.0.0.1:6379/0", key_prefix="acme", ttl_s=60)
    cache = build_cache(settings, namespace="asset-ids")
    assert isinstance(cache, RedisCache)
    assert (cache.prefix, cache.namespace, cache.ttl_s) == ("acme", "asset-ids", 60)


def test_tiered_puts_memory_in_front_of_redis() -> None:
    settings = CacheSettings(backend="tiered", redis_url="redis://127.0.0.1:6379/0", max_size=10)
    cache = build_cache(settings)
    assert isinstance(cache, TieredCache)
    assert isinstance(cache.front, MemoryCache)
    assert isinstance(cache.back, RedisCache)


def test_redis_without_a_url_names_the_field() -> None:
    settings = CacheSettings.model_construct(backend="redis", redis_url=None)  # skips the model's own check
    with pytest.raises(ConfigurationError) as info:
        build_cache(settings)
    assert info.value.field == "cache.redis_url"


async def test_a_built_redis_cache_works(redis_url: str) -> None:
    cache = build_cache(CacheSettings(backend="tiered", redis_url=redis_url))
    await cache.set_many({"a": 1})
    assert await cache.get_many(["a"]) == {"a": 1}
    assert isinstance(cache, TieredCache)
    await cache.aclose()
