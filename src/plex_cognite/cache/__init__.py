"""Cache backends for resolved CDF ids and other lookups: in memory, in Redis, or both.

All implement `plex_cognite.typing.CacheBackend` and expose their counters as `stats` (a `CacheStats`).
`RedisCache` needs the optional extra: `pip install 'plex-cognite[redis]'` (redis is imported only when a
`RedisCache` is created).
"""

from __future__ import annotations

from plex_cognite._cache_stats import CacheStats, SupportsCacheStats
from plex_cognite.cache.factory import build_cache
from plex_cognite.cache.memory import MemoryCache
from plex_cognite.cache.redis import RedisCache
from plex_cognite.cache.tiered import SupportsTTLRead, TieredCache

__all__ = [
    "CacheStats",
    "MemoryCache",
    "RedisCache",
    "SupportsCacheStats",
    "SupportsTTLRead",
    "TieredCache",
    "build_cache",
]
