"""In-process cache: a size-bounded LRU with a time to live per item, safe across threads and tasks."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cachetools import TLRUCache

from plex_cognite._cache_stats import CacheStats, StatsCounter
from plex_cognite.errors import ConfigurationError
from plex_cognite.typing import CacheValue

__all__ = ["MemoryCache"]


class _CountingTLRU(TLRUCache[str, CacheValue]):
    """A `TLRUCache` that counts what it drops, telling evictions (size) from expirations (time)."""

    def __init__(
        self,
        maxsize: int,
        ttu: Callable[[str, CacheValue, float], float],
        timer: Callable[[], float],
        counter: StatsCounter,
    ) -> None:
        super().__init__(maxsize, ttu, timer)
        self._counter = counter

    def expire(self, time: float | None = None) -> list[tuple[str, CacheValue]]:
        expired = list(super().expire(time))
        if expired:
            self._counter.add(expirations=len(expired))
        return expired

    def popitem(self) -> tuple[str, CacheValue]:
        # Only called by cachetools to make room; expired items were already purged by `expire` first.
        item = super().popitem()
        self._counter.add(evictions=1)
        return item


class MemoryCache:
    """A thread- and task-safe in-memory `CacheBackend`: least-recently-used eviction, a time to live per item.

    Every method holds one `threading.Lock` for a short, await-free critical section, so one instance can be
    shared by many tasks and by several threads (each running its own event loop). Values are stored by
    reference, not copied: do not mutate a list or dict after caching it.

    Args:
        max_size: Most items kept; beyond it the least recently used item is evicted (counted in `stats`).
        ttl_s: Default time to live in seconds; `None` keeps items until evicted or deleted.
        timer: Monotonic clock in seconds; inject a fake one in tests.

    Raises:
        ConfigurationError: `max_size` < 1 or `ttl_s` <= 0.

    Example:
        >>> import asyncio
        >>> cache = MemoryCache(max_size=10_000, ttl_s=3600)
        >>> asyncio.run(cache.set_many({"PCN1_PART_7": 42}))
        >>> asyncio.run(cache.get_many(["PCN1_PART_7", "nope"]))
        {'PCN1_PART_7': 42}
    """

    def __init__(
        self,
        max_size: int = 1_000_000,
        ttl_s: float | None = 86400.0,
        *,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ConfigurationError(f"cache max_size must be at least 1, got {max_size}", field="cache.max_size")
        if ttl_s is not None and not ttl_s > 0:
            raise ConfigurationError(
                f"cache ttl_s must be > 0 (or None for no expiry), got {ttl_s}", field="cache.ttl_s"
            )
        self.max_size = max_size
        self.ttl_s = ttl_s
        self._timer = timer
        self._lock = threading.Lock()
        self._counter = StatsCounter()
        # The time to live of the item being written: set under the lock just before each write, read by `_ttu`.
        self._write_ttl: float = math.inf
        self._data = self._new_store()
        self._maps: dict[str, dict[str, Any]] = {}

    def local_map(self, namespace: str) -> dict[str, Any]:
        """A plain dict kept on this cache per `namespace`, for owners that hold a mapping of their own.

        `AssetIDResolver` keeps its external id -> asset id map here instead of also writing every id into the
        cache: with an in-process cache that would hold the same map twice. Resolvers sharing this cache share the
        map. It has no time to live and no size limit (the resolver's map never had one); `clear` empties it.
        """
        with self._lock:
            return self._maps.setdefault(namespace, {})

    def _new_store(self) -> _CountingTLRU:
        return _CountingTLRU(self.max_size, self._ttu, self._timer, self._counter)

    def _ttu(self, _key: str, _value: CacheValue, now: float) -> float:
        return now + self._write_ttl

    def _resolve_ttl(self, ttl: float | None) -> float:
        if ttl is not None:
            return ttl
        return math.inf if self.ttl_s is None else self.ttl_s

    @property
    def stats(self) -> CacheStats:
        """A snapshot of the hit, miss, set, eviction and expiration counters."""
        return self._counter.snapshot()

    def __len__(self) -> int:
        """Number of items held that have not expired."""
        with self._lock:
            self._data.expire()
            return len(self._data)

    async def get_many(self, keys: Sequence[str]) -> dict[str, CacheValue]:
        """Return the values of those keys that are present and not expired.

        Args:
            keys: Keys to look up; each found key counts a hit (and becomes most recently used), others a miss.

        Returns:
            A dict of the keys found.
        """
        found: dict[str, CacheValue] = {}
        with self._lock:
            data = self._data
            # Freeze the clock for the batch, so a key cannot expire between the `in` test and the read.
            with data.timer:
                for key in keys:
                    if key in data:  # present and unexpired
                        found[key] = data[key]  # reading also makes the key most recently used
        self._counter.add(hits=len(found), misses=len(keys) - len(found))
        return found

    async def set_many(self, items: Mapping[str, CacheValue], ttl: float | None = None) -> None:
        """Store values.

        Args:
            items: Keys and values to store.
            ttl: Time to live in seconds for these items; `None` uses the cache's `ttl_s`. A value <= 0 removes
                the keys instead.
        """
        self._store(items.items(), ttl)

    async def warm(
        self, items: Mapping[str, CacheValue] | Iterable[tuple[str, CacheValue]], ttl: float | None = None
    ) -> int:
        """Load many items at once, for example everything a previous run or a CDF listing knows.

        Unlike `set_many` it accepts any iterable of `(key, value)` pairs, so a generator can stream a large
        listing in without building a dict first.

        Args:
            items: A mapping, or an iterable of `(key, value)` pairs.
            ttl: Time to live in seconds; `None` uses the cache's `ttl_s`.

        Returns:
            How many items were loaded.
        """
        pairs = items.items() if isinstance(items, Mapping) else items
        return self._store(pairs, ttl)

    def _store(self, pairs: Iterable[tuple[str, CacheValue]], ttl: float | None) -> int:
        written = 0
        with self._lock:
            self._write_ttl = self._resolve_ttl(ttl)
            data = self._data
            for key, value in pairs:
                # TLRUCache drops an item whose expiry is not in the future (ttl <= 0) instead of storing it.
                data[key] = value
                written += 1
        self._counter.add(sets=written)
        return written

    async def delete_many(self, keys: Sequence[str]) -> None:
        """Remove keys; missing keys are ignored."""
        with self._lock:
            for key in keys:
                self._delete(key)

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key that starts with `prefix` (a scan over all keys: O(size)).

        Returns:
            How many live (unexpired) items were removed.
        """
        with self._lock:
            keys = [key for key in self._data if key.startswith(prefix)]
            return sum(self._delete(key) for key in keys)

    async def clear(self) -> None:
        """Remove every item. Counters are kept; removed items do not count as evictions."""
        with self._lock:
            self._data = self._new_store()
            for mapping in self._maps.values():
                mapping.clear()

    async def aclose(self) -> None:
        """Nothing to release (present so that every backend can be closed the same way)."""

    def _delete(self, key: str) -> bool:
        try:
            del self._data[key]
        except KeyError:  # absent, or present but already expired (cachetools removes it and raises)
            return False
        return True

    def __repr__(self) -> str:
        return f"MemoryCache(max_size={self.max_size}, ttl_s={self.ttl_s})"
