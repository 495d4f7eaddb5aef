"""Two caches as one: a fast front (memory) over a shared back (Redis), write-through and read-through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from plex_cognite._cache_stats import CacheStats, StatsCounter, SupportsCacheStats
from plex_cognite.typing import CacheBackend, CacheValue

__all__ = ["SupportsTTLRead", "TieredCache"]


@runtime_checkable
class SupportsTTLRead(Protocol):
    """A backend that can report how long each found key has left to live (`RedisCache` can)."""

    async def get_many_with_ttl(self, keys: Sequence[str]) -> dict[str, tuple[CacheValue, float | None]]:
        """Return `(value, remaining seconds or None)` for each key found."""
        ...


@runtime_checkable
class _SupportsAclose(Protocol):
    async def aclose(self) -> None: ...


class TieredCache:
    """A `CacheBackend` made of a front tier (usually `MemoryCache`) over a back tier (usually `RedisCache`).

    - Reads go to the front first; keys it misses are read from the back, and those found there are written
      into the front (back-fill) with the time the back still gives them when the back can tell
      (`SupportsTTLRead`), so a short-lived entry (a negative cache entry, say) never outlives itself in the front.
    - Writes go to both (write-through), deletes and `clear` too.
    - A back tier that degrades instead of failing (as `RedisCache` does during an outage) makes the tiered cache
      keep working from the front alone.

    Args:
        front: The fast, local tier.
        back: The shared, slower tier.

    Example:
        >>> cache = TieredCache(MemoryCache(max_size=100_000), RedisCache("redis://127.0.0.1:6379/0"))  # doctest: +SKIP
    """

    def __init__(self, front: CacheBackend, back: CacheBackend) -> None:
        self.front = front
        self.back = back
        self._counter = StatsCounter()

    @property
    def stats(self) -> CacheStats:
        """Counters of the tiered view: a hit in either tier is a hit; a miss is a key neither tier had.

        Each tier's own counters are in `tier_stats`.
        """
        own = self._counter.snapshot()
        tiers = self.tier_stats
        evictions = sum(s.evictions for s in tiers.values())
        expirations = sum(s.expirations for s in tiers.values())
        errors = sum(s.errors for s in tiers.values())
        return CacheStats(own.hits, own.misses, own.sets, evictions, expirations, errors)

    @property
    def tier_stats(self) -> dict[str, CacheStats]:
        """Each tier's own counters, under `"front"` and `"back"` (tiers without `stats` are left out)."""
        tiers: dict[str, CacheStats] = {}
        for name, tier in (("front", self.front), ("back", self.back)):
            if isinstance(tier, SupportsCacheStats):
                tiers[name] = tier.stats
        return tiers

    async def get_many(self, keys: Sequence[str]) -> dict[str, CacheValue]:
        """Return cached values from the front, then the back for the rest (back-filling the front)."""
        if not keys:
            return {}
        found = await self.front.get_many(keys)
        front_hits = len(found)
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:
            found.update(await self._read_back(missing))
        self._counter.add(hits=len(found), misses=front_hits + len(missing) - len(found))
        return found

    async def _read_back(self, keys: Sequence[str]) -> dict[str, CacheValue]:
        """Read `keys` from the back tier and copy what it has into the front, for no longer than the back keeps it."""
        if not isinstance(self.back, SupportsTTLRead):
            found = await self.back.get_many(keys)
            if found:
                await self.front.set_many(found)
            return found
        with_ttl = await self.back.get_many_with_ttl(keys)
        # One set_many per distinct remaining time (usually one or two groups).
        by_ttl: dict[float | None, dict[str, CacheValue]] = {}
        for key, (value, ttl) in with_ttl.items():
            by_ttl.setdefault(ttl, {})[key] = value
        for ttl, items in by_ttl.items():
            await self.front.set_many(items, ttl)
        return {key: value for key, (value, _ttl) in with_ttl.items()}

    async def set_many(self, items: Mapping[str, CacheValue], ttl: float | None = None) -> None:
        """Store values in both tiers (front first; `ttl` applies to both, `None`: each tier's default)."""
        if not items:
            return
        await self.front.set_many(items, ttl)
        await self.back.set_many(items, ttl)
        self._counter.add(sets=len(items))

    async def warm_front(self, keys: Sequence[str]) -> int:
        """Load these keys from the back tier into the front (for example at start-up, the ids a run will need).

        Returns:
            How many keys the back tier had.
        """
        if not keys:
            return 0
        return len(await self._read_back(keys))

    async def delete_many(self, keys: Sequence[str]) -> None:
        """Remove keys from both tiers."""
        await self.front.delete_many(keys)
        await self.back.delete_many(keys)

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix` from both tiers.

        Returns:
            The larger of the two tiers' counts (the back usually holds a superset of the front).
        """
        in_front = await self.front.delete_prefix(prefix)
        in_back = await self.back.delete_prefix(prefix)
        return max(in_front, in_back)

    async def clear(self) -> None:
        """Clear both tiers (the back's own namespace only)."""
        await self.front.clear()
        await self.back.clear()

    async def aclose(self) -> None:
        """Close both tiers (those that have an `aclose`, such as a `RedisCache` made from a URL)."""
        for tier in (self.front, self.back):
            if isinstance(tier, _SupportsAclose):
                await tier.aclose()

    def __repr__(self) -> str:
        return f"TieredCache(front={self.front!r}, back={self.back!r})"
