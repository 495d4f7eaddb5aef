"""Resolve asset external ids to the numeric ids CDF needs for links (`assetIds`, `assetId`).

CDF links events and time series to assets by **numeric internal id**, while an extractor only knows external ids.
`AssetIDResolver` looks them up through `POST /assets/byids` (`ignoreUnknownIds: true`) in chunks of 1000 with
bounded concurrency, caches them (in memory, and in an optional shared `CacheBackend`), coalesces concurrent lookups
(single-flight + micro-batching) and remembers unknown ids for a short while (negative caching).

One implementation, two faces:

```python
resolver = get_resolver(client)                  # CogniteClient -> plain calls
resolver.resolve(["PCN340884_PART_8620c9c8-0004-4000-8000-000000000000"])  # -> {xid: 4503599627370496}

resolver = get_resolver(async_client)            # AsyncCogniteClient -> awaitables
await resolver.resolve(["PCN340884_PART_8620c9c8-0004-4000-8000-000000000000"])
```

The async core (`resolve_async` and friends) can be awaited with either client. With a `CogniteClient` the plain
calls run the core on a private event-loop thread, so they also work inside Jupyter's running loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any, Generic, TypeVar, cast, overload

from cognite.client import AsyncCogniteClient, CogniteClient
from cognite.client.data_classes import Asset

from plex_cognite._cache_stats import CacheStats, StatsCounter, stats_by_tier
from plex_cognite.cdf._batching import MicroBatcher, PerLoop
from plex_cognite.cdf._upsert import CdfRequestRecorder, release_response
from plex_cognite.cdf.client import async_client_of
from plex_cognite.core.sync import run_on_bridge
from plex_cognite.typing import AssetId, CacheBackend, ExternalId

__all__ = ["AssetIDResolver", "AsyncMode", "SyncMode", "get_resolver"]


class SyncMode:
    """Type marker: the resolver (or linker) was built on a `CogniteClient`; its facade methods return values."""


class AsyncMode:
    """Type marker: built on an `AsyncCogniteClient`; its facade methods return awaitables."""


ModeT = TypeVar("ModeT", SyncMode, AsyncMode)
_K = TypeVar("_K")
_V = TypeVar("_V")
_T = TypeVar("_T")

_MISSING = object()


class AssetIDResolver(Generic[ModeT]):
    """External id -> numeric id for assets, batched, cached and coalesced.

    Args:
        client: A `CogniteClient` (facade methods are synchronous) or an `AsyncCogniteClient` (awaitable).
        cache: Optional shared cache (memory, Redis, tiered) consulted before CDF and filled after each lookup.
        chunk_size: External ids per `byids` request (CDF allows 1000).
        max_concurrency: `byids` requests in flight at once.
        negative_ttl_s: How long an unknown external id is remembered as unknown before CDF is asked again.
        cache_ttl_s: TTL for positive entries written to `cache` (None: the backend's default).
        key_prefix: Prefix of the keys written to `cache` (the CDF project is appended).

    Example:
        ```python
        resolver = AssetIDResolver(client)
        ids = resolver.resolve(["PCN340884_PLANT", "PCN340884_PARTS"])  # unknown ids are absent
        ```
    """

    @overload
    def __init__(
        self: AssetIDResolver[SyncMode],
        client: CogniteClient,
        cache: CacheBackend | None = None,
        *,
        chunk_size: int = 1000,
        max_concurrency: int = 4,
        negative_ttl_s: float = 60.0,
        cache_ttl_s: float | None = None,
        key_prefix: str = "cdf-asset-id",
    ) -> None: ...

    @overload
    def __init__(
        self: AssetIDResolver[AsyncMode],
        client: AsyncCogniteClient,
        cache: CacheBackend | None = None,
        *,
        chunk_size: int = 1000,
        max_concurrency: int = 4,
        negative_ttl_s: float = 60.0,
        cache_ttl_s: float | None = None,
        key_prefix: str = "cdf-asset-id",
    ) -> None: ...

    def __init__(
        self,
        client: CogniteClient | AsyncCogniteClient,
        cache: CacheBackend | None = None,
        *,
        chunk_size: int = 1000,
        max_concurrency: int = 4,
        negative_ttl_s: float = 60.0,
        cache_ttl_s: float | None = None,
        key_prefix: str = "cdf-asset-id",
    ) -> None:
        if not 1 <= chunk_size <= 1000:
            raise ValueError(f"chunk_size must be within 1..1000 (CDF's byids limit), got {chunk_size}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        self._is_sync = isinstance(client, CogniteClient)
        self._async_client = async_client_of(client)
        self._project = self._async_client.config.project
        self._byids_url = f"/api/v1/projects/{self._project}/assets/byids"
        self._cache = cache
        self._negative_ttl_s = negative_ttl_s
        self._cache_ttl_s = cache_ttl_s
        self._key_prefix = f"{key_prefix}:{self._project}:"
        # An in-process cache (`MemoryCache`) lends its own dict for the id map, so the map is held once and still
        # shared with other resolvers on that cache; other caches (Redis) get the ids written through `_share`.
        local_map = getattr(cache, "local_map", None)
        self._ids: dict[ExternalId, AssetId] = local_map(self._key_prefix) if callable(local_map) else {}
        self._share_ids = not callable(local_map)
        self._xids: dict[AssetId, ExternalId] = {}
        self._parent: dict[AssetId, AssetId | None] = {}
        self._root: dict[AssetId, AssetId] = {}
        self._unknown_until: dict[ExternalId, float] = {}
        # Lookups by external id and by id, coalesced per event loop (futures belong to one loop).
        self._by_xid: PerLoop[MicroBatcher[ExternalId, AssetId]] = PerLoop(
            lambda: MicroBatcher(self._fetch_xids, chunk_size=chunk_size, max_concurrency=max_concurrency)
        )
        self._by_id: PerLoop[MicroBatcher[AssetId, ExternalId | None]] = PerLoop(
            lambda: MicroBatcher(self._fetch_ids, chunk_size=chunk_size, max_concurrency=max_concurrency)
        )
        self.requests = 0
        """`byids` requests this resolver sent (for metrics and tests)."""
        self.on_request: CdfRequestRecorder | None = None
        """Told about every `byids` call (endpoint, status, seconds); `ExtractorMetrics.watch_resolver` sets it."""
        self._process_stats = StatsCounter()

    @property
    def is_sync(self) -> bool:
        """True when built on a `CogniteClient` (facade methods return values rather than awaitables)."""
        return self._is_sync

    @property
    def project(self) -> str:
        """The CDF project of the client."""
        return self._project

    @property
    def cache_stats(self) -> dict[str, CacheStats]:
        """Hits and misses per tier: `process` (this resolver's own map), then the shared cache's tiers."""
        tiers = {"process": self._process_stats.snapshot()}
        if self._cache is not None:
            tiers.update(stats_by_tier(self._cache))
        return tiers

    @property
    def async_client(self) -> AsyncCogniteClient:
        """The `AsyncCogniteClient` the async core uses (the one a `CogniteClient` wraps)."""
        return self._async_client

    # ------------------------------------------------------------------ async core

    async def resolve_async(self, external_ids: Iterable[ExternalId]) -> dict[ExternalId, AssetId]:
        """Resolve external ids to numeric ids; unknown ids are absent from the result.

        Concurrent calls share lookups: an id that is already being fetched is not asked for again.

        Args:
            external_ids: Asset external ids (duplicates are fine).

        Returns:
            `{external_id: numeric id}` for every id that exists in CDF.
        """
        result: dict[ExternalId, AssetId] = {}
        cold: list[ExternalId] = []
        now = time.monotonic()
        for xid in external_ids:
            if xid in result:
                continue
            known = self._ids.get(xid)
            if known is not None:
                result[xid] = known
            elif self._unknown_until.get(xid, 0.0) <= now:
                cold.append(xid)
        self._process_stats.add(hits=len(result), misses=len(cold))
        if cold:
            await _collect(self._by_xid.get().submit(cold), result)
        return result

    async def resolve_one_async(self, external_id: ExternalId) -> AssetId | None:
        """Resolve one external id; None when the asset does not exist."""
        return (await self.resolve_async([external_id])).get(external_id)

    async def external_ids_async(self, ids: Iterable[AssetId]) -> dict[AssetId, ExternalId]:
        """Reverse lookup: numeric id -> external id (assets without an external id, or unknown ids, are absent)."""
        result: dict[AssetId, ExternalId] = {}
        cold: list[AssetId] = []
        for asset_id in ids:
            xid = self._xids.get(asset_id)
            if xid is not None:
                result[asset_id] = xid
            elif asset_id not in result:
                cold.append(asset_id)
        if cold:
            await _collect(self._by_id.get().submit(cold), result)
        return result

    async def ancestors_async(self, external_id: ExternalId) -> list[AssetId]:
        """Numeric ids of an asset's ancestors, nearest (its parent) first, root last; [] for a root.

        Raises:
            KeyError: When the asset does not exist.
        """
        asset_id = await self._require(external_id)
        chain: list[AssetId] = []
        current: AssetId | None = asset_id
        while current is not None:
            if current not in self._parent:
                await self._load_objects([current])
                if current not in self._parent:
                    break
            current = self._parent[current]
            if current is not None:
                if current in chain or current == asset_id:
                    raise RuntimeError(f"asset hierarchy of {external_id!r} has a cycle at id {current}")
                chain.append(current)
        return chain

    async def root_id_async(self, external_id: ExternalId) -> AssetId:
        """Numeric id of the root of an asset's hierarchy (the asset itself for a root).

        Raises:
            KeyError: When the asset does not exist.
        """
        asset_id = await self._require(external_id)
        if asset_id not in self._root:
            await self._load_objects([asset_id])
        return self._root.get(asset_id, asset_id)

    async def invalidate_async(self, external_ids: Iterable[ExternalId] | None = None) -> None:
        """Forget ids (all of them when None), locally and in the shared cache, so the next lookup asks CDF."""
        keys = self.invalidate(external_ids) if external_ids is not None else self._forget_all()
        if self._cache is not None:
            if external_ids is None:
                await self._cache.delete_prefix(self._key_prefix)
            elif keys:
                await self._cache.delete_many([self._key_prefix + xid for xid in keys])

    async def prime_async(self, assets: Mapping[ExternalId, AssetId] | Iterable[Asset | Mapping[str, Any]]) -> int:
        """`prime`, and also write the ids to the shared cache. Returns how many ids were primed."""
        mapping = self._prime_local(assets)
        await self._share(mapping)
        return len(mapping)

    # ------------------------------------------------------------------ sync-or-async facade

    @overload
    def resolve(self: AssetIDResolver[SyncMode], external_ids: Iterable[ExternalId]) -> dict[ExternalId, AssetId]: ...
    @overload
    def resolve(
        self: AssetIDResolver[AsyncMode], external_ids: Iterable[ExternalId]
    ) -> Coroutine[Any, Any, dict[ExternalId, AssetId]]: ...
    def resolve(
        self, external_ids: Iterable[ExternalId]
    ) -> dict[ExternalId, AssetId] | Coroutine[Any, Any, dict[ExternalId, AssetId]]:
        """Resolve external ids (see `resolve_async`); synchronous for a `CogniteClient`, awaitable otherwise."""
        return run_facade(self, self.resolve_async(list(external_ids)))

    @overload
    def external_ids(self: AssetIDResolver[SyncMode], ids: Iterable[AssetId]) -> dict[AssetId, ExternalId]: ...
    @overload
    def external_ids(
        self: AssetIDResolver[AsyncMode], ids: Iterable[AssetId]
    ) -> Coroutine[Any, Any, dict[AssetId, ExternalId]]: ...
    def external_ids(
        self, ids: Iterable[AssetId]
    ) -> dict[AssetId, ExternalId] | Coroutine[Any, Any, dict[AssetId, ExternalId]]:
        """Reverse lookup (see `external_ids_async`); synchronous for a `CogniteClient`, awaitable otherwise."""
        return run_facade(self, self.external_ids_async(list(ids)))

    @overload
    def ancestors(self: AssetIDResolver[SyncMode], external_id: ExternalId) -> list[AssetId]: ...
    @overload
    def ancestors(self: AssetIDResolver[AsyncMode], external_id: ExternalId) -> Coroutine[Any, Any, list[AssetId]]: ...
    def ancestors(self, external_id: ExternalId) -> list[AssetId] | Coroutine[Any, Any, list[AssetId]]:
        """Ancestors (see `ancestors_async`); synchronous for a `CogniteClient`, awaitable otherwise."""
        return run_facade(self, self.ancestors_async(external_id))

    @overload
    def root_id(self: AssetIDResolver[SyncMode], external_id: ExternalId) -> AssetId: ...
    @overload
    def root_id(self: AssetIDResolver[AsyncMode], external_id: ExternalId) -> Coroutine[Any, Any, AssetId]: ...
    def root_id(self, external_id: ExternalId) -> AssetId | Coroutine[Any, Any, AssetId]:
        """Root id (see `root_id_async`); synchronous for a `CogniteClient`, awaitable otherwise."""
        return run_facade(self, self.root_id_async(external_id))

    def invalidate(self, external_ids: Iterable[ExternalId]) -> list[ExternalId]:
        """Forget ids in this process (positive and negative entries); the next lookup asks CDF (or the cache).

        Use `invalidate_async` to also drop them from a shared cache.

        Returns:
            The ids that were forgotten.
        """
        forgotten = list(dict.fromkeys(external_ids))
        for xid in forgotten:
            self._unknown_until.pop(xid, None)
            asset_id = self._ids.pop(xid, None)
            if asset_id is not None:
                self._xids.pop(asset_id, None)
        return forgotten

    def prime(self, assets: Mapping[ExternalId, AssetId] | Iterable[Asset | Mapping[str, Any]]) -> int:
        """Record ids we already know (for example what the asset sink just wrote), so no lookup is needed.

        Args:
            assets: `{external_id: id}`, or assets as cognite-sdk `Asset` objects or API dicts (`id`, `externalId`,
                and `parentId`/`rootId` when present, which feed `ancestors`/`root_id`).

        Returns:
            How many external ids were primed. Use `prime_async` to also fill the shared cache.
        """
        return len(self._prime_local(assets))

    def cached(self, external_id: ExternalId) -> AssetId | None:
        """The id known in this process without any I/O, or None."""
        return self._ids.get(external_id)

    # ------------------------------------------------------------------ internals

    def _forget_all(self) -> list[ExternalId]:
        keys = list(self._ids)
        self._ids.clear()
        self._xids.clear()
        self._unknown_until.clear()
        return keys

    async def _require(self, external_id: ExternalId) -> AssetId:
        asset_id = await self.resolve_one_async(external_id)
        if asset_id is None:
            raise KeyError(f"asset {external_id!r} does not exist in CDF project {self._project!r}")
        return asset_id

    def _prime_local(
        self, assets: Mapping[ExternalId, AssetId] | Iterable[Asset | Mapping[str, Any]]
    ) -> dict[ExternalId, AssetId]:
        mapping: dict[ExternalId, AssetId] = {}
        if isinstance(assets, Mapping):
            for xid, asset_id in cast("Mapping[ExternalId, AssetId]", assets).items():
                mapping[xid] = asset_id
                self._remember(xid, asset_id)
            return mapping
        for asset in assets:
            raw = asset.dump(camel_case=True) if isinstance(asset, Asset) else asset
            object_xid = raw.get("externalId")
            object_id = raw.get("id")
            if not isinstance(object_id, int):
                continue
            self._remember_object(raw)
            if isinstance(object_xid, str):
                mapping[object_xid] = object_id
        return mapping

    def _remember(self, xid: ExternalId, asset_id: AssetId) -> None:
        self._unknown_until.pop(xid, None)
        self._ids[xid] = asset_id
        self._xids[asset_id] = xid

    def _remember_object(self, raw: Mapping[str, Any]) -> None:
        asset_id = raw["id"]
        xid = raw.get("externalId")
        if isinstance(xid, str):
            self._remember(xid, asset_id)
        if "rootId" in raw:
            self._parent[asset_id] = raw.get("parentId")
            self._root[asset_id] = raw["rootId"]

    async def _load_objects(self, ids: list[AssetId]) -> None:
        """Read assets by id even when their external ids are known (for `parentId`/`rootId`)."""
        for future in self._by_id.get().submit(ids).values():
            await future

    async def _share(self, mapping: Mapping[ExternalId, AssetId]) -> None:
        """Write known ids to the shared cache, if there is one (an in-process cache already holds `_ids`)."""
        if self._cache is not None and self._share_ids and mapping:
            await self._cache.set_many({self._key_prefix + k: v for k, v in mapping.items()}, ttl=self._cache_ttl_s)

    async def _fetch_xids(self, xids: list[ExternalId]) -> dict[ExternalId, AssetId]:
        found: dict[ExternalId, AssetId] = {}
        remaining = xids
        if self._cache is not None:
            cached = await self._cache.get_many([self._key_prefix + xid for xid in xids])
            remaining = []
            now = time.monotonic()
            for xid in xids:
                value = cached.get(self._key_prefix + xid, _MISSING)
                if isinstance(value, int) and not isinstance(value, bool):
                    found[xid] = value
                    self._remember(xid, value)
                elif value is None:  # a negative entry shared through the cache
                    self._unknown_until[xid] = now + self._negative_ttl_s
                else:
                    remaining.append(xid)
        if not remaining:
            return found
        items = await self._byids([{"externalId": xid} for xid in remaining])
        fetched: dict[ExternalId, AssetId] = {}
        for raw in items:
            self._remember_object(raw)
            object_xid = raw.get("externalId")
            if isinstance(object_xid, str):
                fetched[object_xid] = raw["id"]
        unknown = [xid for xid in remaining if xid not in fetched]
        until = time.monotonic() + self._negative_ttl_s
        for xid in unknown:
            self._unknown_until[xid] = until
        await self._share(fetched)
        if self._cache is not None and unknown and self._negative_ttl_s > 0:
            await self._cache.set_many({self._key_prefix + k: None for k in unknown}, ttl=self._negative_ttl_s)
        found.update(fetched)
        return found

    async def _fetch_ids(self, ids: list[AssetId]) -> dict[AssetId, str | None]:
        items = await self._byids([{"id": asset_id} for asset_id in ids])
        found: dict[AssetId, str | None] = {}
        for raw in items:
            self._remember_object(raw)
            xid = raw.get("externalId")
            found[raw["id"]] = xid if isinstance(xid, str) else None
        return found

    async def _byids(self, identifiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # POST /assets/byids is retryable in the SDK (429/5xx/connection errors): no second retry layer here.
        self.requests += 1
        body = {"items": identifiers, "ignoreUnknownIds": True}
        if self.on_request is None:
            response = await self._async_client.post(self._byids_url, json=body)
        else:
            started, status = time.perf_counter(), "error"
            try:
                response = await self._async_client.post(self._byids_url, json=body)
                status = str(response.status_code)
            finally:
                self.on_request("/assets/byids", status, time.perf_counter() - started)
        try:
            return cast("list[dict[str, Any]]", response.json()["items"])
        finally:
            release_response(response)


def run_facade(resolver: AssetIDResolver[Any], coro: Coroutine[Any, Any, _T]) -> _T | Coroutine[Any, Any, _T]:
    """The facade rule: run `coro` to its result for a sync resolver, hand it back to be awaited otherwise."""
    return run_on_bridge(coro) if resolver.is_sync else coro


async def _collect(futures: Mapping[_K, asyncio.Future[_V | None]], into: dict[_K, _V]) -> None:
    """Await lookups, adding what was found to `into` (None means not found)."""
    for key, future in futures.items():
        value = await future
        if value is not None:
            into[key] = value


# The shared resolver hangs off the client itself, so it lives exactly as long as the client: a WeakKeyDictionary
# would keep an AsyncCogniteClient alive forever, because its resolver refers back to it.
_RESOLVER_ATTRIBUTE = "_plex_cognite_asset_id_resolver"
_resolver_lock = threading.Lock()


@overload
def get_resolver(client: CogniteClient, cache: CacheBackend | None = None) -> AssetIDResolver[SyncMode]: ...
@overload
def get_resolver(client: AsyncCogniteClient, cache: CacheBackend | None = None) -> AssetIDResolver[AsyncMode]: ...
def get_resolver(
    client: CogniteClient | AsyncCogniteClient, cache: CacheBackend | None = None
) -> AssetIDResolver[SyncMode] | AssetIDResolver[AsyncMode]:
    """Return the resolver shared by everything that uses `client` (created on first use).

    The resolver lives as long as the client does. `cache` is used only when this call creates the resolver.

    Args:
        client: A `CogniteClient` (synchronous facade) or an `AsyncCogniteClient` (awaitable facade).
        cache: Optional shared cache for a newly created resolver.
    """
    resolver: AssetIDResolver[Any] | None = getattr(client, _RESOLVER_ATTRIBUTE, None)
    if resolver is None:
        with _resolver_lock:
            resolver = getattr(client, _RESOLVER_ATTRIBUTE, None)
            if resolver is None:
                resolver = AssetIDResolver(client, cache)
                setattr(client, _RESOLVER_ATTRIBUTE, resolver)
    return resolver
