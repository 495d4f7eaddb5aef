"""Shared cache in Redis (`redis.asyncio`, extra `plex-cognite[redis]`) that degrades to misses when Redis is down.

Keys are `{prefix}:{namespace}:{key}`; values carry a one-byte type tag so ints, strings and JSON come back with
exactly the type they were stored with. A Redis outage never fails an extraction: the failing operation is logged,
counted in `stats.errors` and answered as a miss (reads) or a no-op (writes); for `outage_backoff_s` after a
connection failure Redis is not even tried, so an unreachable server costs no timeouts per call. redis-py
reconnects by itself, so the cache recovers as soon as Redis is back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from plex_cognite._cache_stats import CacheStats, StatsCounter
from plex_cognite.cache._codec import decode_value, encode_key, encode_value
from plex_cognite.errors import ConfigurationError
from plex_cognite.observability.logs import get_logger
from plex_cognite.resilience._redis import OutageBackoff, open_client, redis_exceptions
from plex_cognite.typing import CacheValue

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisCache"]

_log = get_logger("plex_cognite.cache.redis")
_T = TypeVar("_T")
_GLOB_SPECIAL = frozenset(b"*?[]\\")


def _glob_escape(raw: bytes) -> bytes:
    r"""Escape Redis glob characters (`* ? [ ] \`) so `raw` matches only itself in SCAN MATCH."""
    return b"".join(b"\\" + bytes([c]) if c in _GLOB_SPECIAL else bytes([c]) for c in raw)


class RedisCache:
    """A `CacheBackend` in Redis, shared by every worker that uses the same prefix and namespace.

    Use it from one event loop (redis.asyncio connections belong to the loop that opened them).

    Args:
        url_or_client: A `redis://` / `rediss://` / `unix://` URL (the cache then owns the client and closes it in
            `aclose()`), or a ready `redis.asyncio.Redis` (left open; make it with `decode_responses=False`, the
            default).
        prefix: First part of every key, shared by everything plex-cognite stores.
        namespace: Second part; `clear()` removes this namespace only. Must not contain `:`.
        ttl_s: Default time to live in seconds; `None` keeps keys until deleted (or evicted by Redis policy).
        socket_timeout_s: Read/write timeout per command (URL form only).
        connect_timeout_s: Connect timeout (URL form only).
        outage_backoff_s: After a connection failure or timeout, skip Redis (answer misses / no-ops, counted in
            `stats.errors`) for this long before trying again. 0 tries every call.
        batch_size: Keys per MGET / pipeline round trip.
        clock: Monotonic clock in seconds for the outage back-off; inject a fake one in tests.

    Raises:
        ConfigurationError: redis is not installed, or an argument is invalid.

    Example:
        >>> cache = RedisCache("redis://127.0.0.1:6379/0", namespace="asset-ids", ttl_s=86400)  # doctest: +SKIP
        >>> await cache.set_many({"PCN1_PART_7": 42})  # doctest: +SKIP
        >>> await cache.get_many(["PCN1_PART_7"])  # doctest: +SKIP
        {'PCN1_PART_7': 42}
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        prefix: str = "plex-cognite",
        namespace: str = "default",
        ttl_s: float | None = None,
        socket_timeout_s: float = 2.0,
        connect_timeout_s: float = 2.0,
        outage_backoff_s: float = 1.0,
        batch_size: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        exceptions = redis_exceptions("the Redis cache", field="cache.backend")
        if not namespace or ":" in namespace:
            raise ConfigurationError(f"cache namespace must be non-empty without ':', got {namespace!r}")
        if ttl_s is not None and not ttl_s > 0:
            raise ConfigurationError(f"cache ttl_s must be > 0 (or None), got {ttl_s}", field="cache.ttl_s")
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        self.prefix = prefix
        self.namespace = namespace
        self.ttl_s = ttl_s
        self.outage_backoff_s = outage_backoff_s
        self.batch_size = batch_size
        self._key_root = encode_key(f"{prefix}:{namespace}:")
        self._client, self._owns_client = open_client(
            url_or_client, socket_timeout_s=socket_timeout_s, connect_timeout_s=connect_timeout_s
        )
        #: Errors that mean "Redis is unreachable": they start the outage back-off.
        self._outage_errors: tuple[type[BaseException], ...] = (
            exceptions.ConnectionError,
            exceptions.TimeoutError,
            OSError,
        )
        #: Any other Redis error (READONLY, OOM, ...) degrades the one operation only.
        self._redis_error: type[BaseException] = exceptions.RedisError
        self._counter = StatsCounter()
        self._backoff = OutageBackoff(outage_backoff_s, clock)

    @property
    def client(self) -> Redis:
        """The underlying `redis.asyncio.Redis` client."""
        return self._client

    @property
    def stats(self) -> CacheStats:
        """A snapshot of the hit, miss, set and error counters."""
        return self._counter.snapshot()

    @property
    def degraded(self) -> bool:
        """Whether the last operation failed to reach Redis (it is answering misses / no-ops)."""
        return self._backoff.down

    def _key(self, key: str) -> bytes:
        return self._key_root + encode_key(key)

    def _chunks(self, keys: Sequence[str]) -> list[Sequence[str]]:
        size = self.batch_size
        return [keys[i : i + size] for i in range(0, len(keys), size)]

    async def _call(self, operation: str, run: Callable[[], Awaitable[_T]]) -> tuple[bool, _T | None]:
        """Run one Redis round trip (or several); on failure log, count and report it instead of raising."""
        if self._backoff.skipping:
            self._counter.add(errors=1)
            return False, None
        try:
            result = await run()
        except self._outage_errors as exc:
            self._failed(operation, exc, outage=True)
            return False, None
        except self._redis_error as exc:
            self._failed(operation, exc, outage=False)
            return False, None
        if self._backoff.succeeded():
            _log.info("redis cache recovered", namespace=self.namespace, operation=operation)
        return True, result

    def _failed(self, operation: str, exc: BaseException, *, outage: bool) -> None:
        self._counter.add(errors=1)
        first = self._backoff.failed(back_off=outage)
        # One warning per outage, not one per call: the pipeline may call thousands of times meanwhile.
        (_log.warning if first else _log.debug)(
            "redis cache unavailable, degrading to misses" if outage else "redis cache operation failed",
            namespace=self.namespace,
            operation=operation,
            error_type=type(exc).__name__,
            error=str(exc),
            retry_in_s=self.outage_backoff_s if outage else 0.0,
        )

    async def get_many(self, keys: Sequence[str]) -> dict[str, CacheValue]:
        """Return the values of those keys that are present (one MGET per `batch_size` keys, one round trip).

        A Redis failure answers every key as a miss and counts one error.
        """
        return {key: value for key, (value, _ttl) in (await self._get(keys, with_ttl=False)).items()}

    async def get_many_with_ttl(self, keys: Sequence[str]) -> dict[str, tuple[CacheValue, float | None]]:
        """Like `get_many`, with each key's remaining time to live in seconds (`None`: no expiry).

        `TieredCache` uses it to back-fill its front tier without outliving the entry in Redis.
        """
        return await self._get(keys, with_ttl=True)

    async def _get(self, keys: Sequence[str], *, with_ttl: bool) -> dict[str, tuple[CacheValue, float | None]]:
        if not keys:
            return {}
        keys = list(dict.fromkeys(keys))
        chunks = self._chunks(keys)

        async def run() -> list[Any]:  # redis replies: MGET lists and PTTL ints
            async with self._client.pipeline(transaction=False) as pipe:
                for chunk in chunks:
                    pipe.mget([self._key(key) for key in chunk])
                    if with_ttl:
                        for key in chunk:
                            pipe.pttl(self._key(key))
                return await pipe.execute()

        ok, replies = await self._call("get_many", run)
        if not ok or replies is None:
            self._counter.add(misses=len(keys))
            return {}
        found: dict[str, tuple[CacheValue, float | None]] = {}
        corrupt = 0
        position = 0
        for chunk in chunks:
            values = replies[position]
            ttls = replies[position + 1 : position + 1 + len(chunk)] if with_ttl else []
            position += 1 + (len(chunk) if with_ttl else 0)
            for index, (key, raw) in enumerate(zip(chunk, values, strict=True)):
                if raw is None:
                    continue
                try:
                    value = decode_value(raw)
                except ValueError as exc:
                    corrupt += 1
                    _log.warning("redis cache entry unreadable, treated as a miss", key=key, error=str(exc))
                    continue
                ttl: float | None = None
                if with_ttl:
                    pttl = ttls[index]
                    if pttl == -2:  # expired between MGET and PTTL
                        continue
                    ttl = None if pttl < 0 else pttl / 1000
                found[key] = (value, ttl)
        self._counter.add(hits=len(found), misses=len(keys) - len(found), errors=corrupt)
        return found

    async def set_many(self, items: Mapping[str, CacheValue], ttl: float | None = None) -> None:
        """Store values (pipelined SET with PX, `batch_size` per round trip).

        Args:
            items: Keys and values to store.
            ttl: Time to live in seconds; `None` uses `ttl_s`. A value <= 0 removes the keys instead.

        Raises:
            TypeError: A value is not a JSON value (a programming error, raised before anything is sent).
        """
        if not items:
            return
        effective = self.ttl_s if ttl is None else ttl
        if effective is not None and not effective > 0:
            await self.delete_many(list(items))
            return
        px = None if effective is None or math.isinf(effective) else max(1, round(effective * 1000))
        encoded = [(self._key(key), encode_value(value)) for key, value in items.items()]
        size = self.batch_size

        async def run() -> None:
            for start in range(0, len(encoded), size):
                async with self._client.pipeline(transaction=False) as pipe:
                    for name, value in encoded[start : start + size]:
                        pipe.set(name, value, px=px)
                    await pipe.execute()

        ok, _ = await self._call("set_many", run)
        if ok:
            self._counter.add(sets=len(encoded))

    async def warm(self, items: Mapping[str, CacheValue], ttl: float | None = None) -> int:
        """Store many items at once (same as `set_many`); return how many were stored (0 when Redis is down)."""
        before = self._counter.snapshot().sets
        await self.set_many(items, ttl)
        return self._counter.snapshot().sets - before

    async def delete_many(self, keys: Sequence[str]) -> None:
        """Remove keys (UNLINK); missing keys are ignored. A Redis failure is a counted no-op."""
        if not keys:
            return
        chunks = self._chunks(list(keys))

        async def run() -> None:
            async with self._client.pipeline(transaction=False) as pipe:
                for chunk in chunks:
                    pipe.unlink(*[self._key(key) for key in chunk])
                await pipe.execute()

        await self._call("delete_many", run)

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key of this namespace that starts with `prefix` (SCAN MATCH, glob characters escaped).

        Returns:
            How many keys were removed (0 when Redis is down).
        """
        pattern = _glob_escape(self._key(prefix)) + b"*"

        async def run() -> int:
            removed = 0
            batch: list[bytes] = []
            async for name in self._client.scan_iter(match=pattern, count=self.batch_size):
                batch.append(name)
                if len(batch) >= self.batch_size:
                    removed += await self._client.unlink(*batch)
                    batch = []
            if batch:
                removed += await self._client.unlink(*batch)
            return removed

        ok, removed = await self._call("delete_prefix", run)
        return removed if ok and removed is not None else 0

    async def clear(self) -> None:
        """Remove every key of this namespace (other namespaces and prefixes are untouched)."""
        await self.delete_prefix("")

    async def ping(self) -> bool:
        """Whether Redis answers PING now (ignores the outage back-off; never raises)."""
        try:
            return bool(await self._client.ping())
        except (*self._outage_errors, self._redis_error):
            return False

    async def aclose(self) -> None:
        """Close the client if this cache created it from a URL."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> RedisCache:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        # Never the URL: it may hold a password.
        return f"RedisCache(prefix={self.prefix!r}, namespace={self.namespace!r}, ttl_s={self.ttl_s})"
