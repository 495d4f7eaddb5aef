"""Build the configured cache backend from `CacheSettings`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plex_cognite.cache.memory import MemoryCache
from plex_cognite.cache.redis import RedisCache
from plex_cognite.cache.tiered import TieredCache
from plex_cognite.errors import ConfigurationError
from plex_cognite.typing import CacheBackend

if TYPE_CHECKING:
    from plex_cognite.config import CacheSettings

__all__ = ["build_cache"]


def build_cache(settings: CacheSettings, *, namespace: str = "default") -> CacheBackend:
    """Make the cache `settings.backend` names.

    - `memory`: `MemoryCache(max_size, ttl_s)`.
    - `redis`: `RedisCache(redis_url, prefix=key_prefix, namespace=namespace, ttl_s=ttl_s)`.
    - `tiered`: a `MemoryCache` in front of that `RedisCache`.

    Args:
        settings: The `cache` section of the settings.
        namespace: Keeps caches of different kinds (or CDF projects) apart in a shared Redis.

    Returns:
        The backend; a Redis client is created but not connected until first use.

    Raises:
        ConfigurationError: `redis` or `tiered` without `redis_url`, or the redis package is missing.

    Example:
        >>> from plex_cognite.config import CacheSettings
        >>> build_cache(CacheSettings(max_size=1000))
        MemoryCache(max_size=1000, ttl_s=86400.0)
    """
    if settings.backend == "memory":
        return MemoryCache(max_size=settings.max_size, ttl_s=settings.ttl_s)
    if settings.redis_url is None:
        raise ConfigurationError(
            f"cache backend {settings.backend!r} needs cache.redis_url, e.g. redis://localhost:6379/0",
            field="cache.redis_url",
        )
    shared = RedisCache(settings.redis_url, prefix=settings.key_prefix, namespace=namespace, ttl_s=settings.ttl_s)
    if settings.backend == "redis":
        return shared
    return TieredCache(MemoryCache(max_size=settings.max_size, ttl_s=settings.ttl_s), shared)
