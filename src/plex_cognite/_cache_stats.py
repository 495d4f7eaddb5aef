"""Cache hit and miss counters, per tier: shared by the caches that count and the metrics that read them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

__all__ = ["CacheStats", "SupportsCacheStats", "stats_by_tier", "tier_name"]


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A point-in-time snapshot of a cache's counters (monotonic since the cache was made).

    Attributes:
        hits: Keys asked for and found.
        misses: Keys asked for and not found (including every key asked for while the store was unreachable).
        sets: Keys written.
        evictions: Keys dropped to stay within the size limit (least recently used first).
        expirations: Keys dropped because their time to live ran out (memory cache only).
        errors: Operations that failed against the store and were degraded to a miss or a no-op.
    """

    hits: int = 0
    misses: int = 0
    sets: int = 0
    evictions: int = 0
    expirations: int = 0
    errors: int = 0

    @property
    def lookups(self) -> int:
        """Keys asked for: hits plus misses."""
        return self.hits + self.misses

    @property
    def hit_ratio(self) -> float:
        """Hits per lookup, 0.0 before the first lookup."""
        lookups = self.lookups
        return self.hits / lookups if lookups else 0.0

    def __add__(self, other: CacheStats) -> CacheStats:
        return CacheStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@runtime_checkable
class SupportsCacheStats(Protocol):
    """A cache that exposes its counters (every backend in `plex_cognite.cache` does)."""

    @property
    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        ...


class StatsCounter:
    """Mutable, thread-safe counters behind a backend's `stats` snapshot."""

    __slots__ = ("_errors", "_evictions", "_expirations", "_hits", "_lock", "_misses", "_sets")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._sets = 0
        self._evictions = 0
        self._expirations = 0
        self._errors = 0

    def add(
        self,
        *,
        hits: int = 0,
        misses: int = 0,
        sets: int = 0,
        evictions: int = 0,
        expirations: int = 0,
        errors: int = 0,
    ) -> None:
        """Add to the counters atomically."""
        with self._lock:
            self._hits += hits
            self._misses += misses
            self._sets += sets
            self._evictions += evictions
            self._expirations += expirations
            self._errors += errors

    def snapshot(self) -> CacheStats:
        """Return the current values as an immutable `CacheStats`."""
        with self._lock:
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                sets=self._sets,
                evictions=self._evictions,
                expirations=self._expirations,
                errors=self._errors,
            )


def tier_name(cache: object) -> str:
    """A cache's tier label for metrics: its class name without `Cache`, lower case (`memory`, `redis`)."""
    name = type(cache).__name__
    return (name.removesuffix("Cache") or name).lower()


def stats_by_tier(cache: object) -> dict[str, CacheStats]:
    """The counters of each tier of `cache`: both tiers of a tiered cache, else the cache itself.

    Caches without counters are left out, so metrics never invent zeros for a tier that is not measured.
    """
    front, back = getattr(cache, "front", None), getattr(cache, "back", None)
    if front is not None and back is not None:
        tiers: dict[str, CacheStats] = {}
        for tier in (front, back):
            tiers.update(stats_by_tier(tier))
        return tiers
    if isinstance(cache, SupportsCacheStats):
        return {tier_name(cache): cache.stats}
    return {}
