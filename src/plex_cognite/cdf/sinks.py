"""Async CDF sinks: idempotent upserts by external id, cut to API limits, written with bounded concurrency.

```python
sink = EventSink(async_client, data_set_id=77)
result = await sink.write(items)        # WriteResult(created, updated, unchanged, failed, requests)
```

- `AssetSink`: hierarchies in any input order (parents go before or in the same request as their children, by
  `parentExternalId`); re-parenting by update; primes the resolver with the ids CDF returned.
- `EventSink` / `TimeSeriesSink`: link asset external ids to numeric ids through the `AssetIDResolver`, under the
  `on_missing_asset` policy (`defer` -> `ItemFailure(deferred=True)`, never written unlinked; `skip_link` -> written
  without the unknown links; `fail` -> `AssetsNotFoundError`).
- `DatapointsSink`, `RawSink`: see `plex_cognite.cdf._data_sinks`.

Every write is create -> on 409 `duplicated` read those ids back, diff, and update only real changes (unchanged items
need no write). Each chunk runs inside the batch retry policy; see `plex_cognite.cdf._upsert` for why that is safe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from cognite.client import AsyncCogniteClient, CogniteClient

from plex_cognite.cdf._batching import chunked
from plex_cognite.cdf._data_sinks import DatapointsSink, RawDeleteResult, RawSink
from plex_cognite.cdf._sink_base import SinkBase, SinkMetrics, merged
from plex_cognite.cdf._upsert import BatchRetry, ResourceSpec, upsert_chunk
from plex_cognite.cdf.items import AssetItem, EventItem, TimeSeriesItem
from plex_cognite.cdf.linker import AssetsNotFoundError, OnMissingAsset, checked_policy
from plex_cognite.cdf.resolver import AssetIDResolver, get_resolver
from plex_cognite.core.results import ItemFailure, WriteResult
from plex_cognite.typing import AssetId, ExternalId

__all__ = [
    "AssetSink",
    "DatapointsSink",
    "EventSink",
    "RawDeleteResult",
    "RawSink",
    "SinkMetrics",
    "TimeSeriesSink",
]

ASSET_SPEC = ResourceSpec(
    "assets",
    {
        "externalId": "create_only",
        "name": "scalar",
        "parentExternalId": "scalar",
        "description": "scalar",
        "metadata": "map",
        "source": "scalar",
        "dataSetId": "scalar",
    },
    managed_nulls=frozenset({"description", "metadata", "source"}),
)
EVENT_SPEC = ResourceSpec(
    "events",
    {
        "externalId": "create_only",
        "type": "scalar",
        "subtype": "scalar",
        "startTime": "scalar",
        "endTime": "scalar",
        "description": "scalar",
        "metadata": "map",
        "source": "scalar",
        "assetIds": "id_set",
        "dataSetId": "scalar",
    },
    managed_nulls=frozenset({"type", "subtype", "startTime", "endTime", "description", "metadata", "source"}),
)
TIMESERIES_SPEC = ResourceSpec(
    "timeseries",
    {
        "externalId": "create_only",
        "isString": "create_only",
        "name": "scalar",
        "unit": "scalar",
        "description": "scalar",
        "metadata": "map",
        "isStep": "scalar",
        "assetId": "scalar",
        "dataSetId": "scalar",
    },
    managed_nulls=frozenset({"unit", "description", "metadata", "assetId"}),
)

_MAX_ITEMS = 1000


class _Keyed(Protocol):
    @property
    def external_id(self) -> ExternalId: ...


_KeyedT = TypeVar("_KeyedT", bound=_Keyed)
_LinkedT = TypeVar("_LinkedT", EventItem, TimeSeriesItem)


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None and v != {}}


def _dedupe(items: Sequence[_KeyedT]) -> list[_KeyedT]:
    """Keep the last item per external id (one create request may not name an external id twice)."""
    return list({item.external_id: item for item in items}.values())


class _ResourceSink(SinkBase):
    spec: ResourceSpec
    primes_resolver = False
    """Whether CDF's answers are read back to prime the resolver (the asset sink's ids are what links need)."""

    def __init__(
        self,
        client: AsyncCogniteClient | CogniteClient,
        *,
        resolver: AssetIDResolver[Any] | None = None,
        data_set_id: int | None = None,
        concurrency: int = 4,
        retry: BatchRetry | None = None,
        metrics: object | None = None,
        chunk_size: int = _MAX_ITEMS,
    ) -> None:
        super().__init__(client, concurrency=concurrency, retry=retry, metrics=metrics)
        if not 1 <= chunk_size <= _MAX_ITEMS:
            raise ValueError(f"chunk_size must be within 1..{_MAX_ITEMS}, got {chunk_size}")
        self.resolver = resolver if resolver is not None else get_resolver(client)
        self.data_set_id = data_set_id
        self.chunk_size = chunk_size

    def _data_set(self, item: AssetItem | EventItem | TimeSeriesItem) -> int | None:
        return item.data_set_id if item.data_set_id is not None else self.data_set_id

    async def _upsert(self, bodies: Sequence[dict[str, Any]]) -> WriteResult:
        return merged(
            await asyncio.gather(*(self._upsert_one(list(chunk)) for chunk in chunked(bodies, self.chunk_size)))
        )

    async def _upsert_one(self, chunk: list[dict[str, Any]]) -> WriteResult:
        async def run() -> WriteResult:
            outcome = await upsert_chunk(self.api, self.spec, chunk, self.retry, collect_objects=self.primes_resolver)
            if outcome.objects:
                await self.resolver.prime_async(outcome.objects)
            return outcome.result

        return await self._guarded([b["externalId"] for b in chunk], run)


class AssetSink(_ResourceSink):
    """Upsert assets; hierarchies land with correct parents in any input order.

    Items are ordered parents-first (depth within the batch) and cut into requests of 1000; a request waits only for
    the requests holding its items' parents (a parent in the same request is resolved by CDF). An item whose parent
    exists neither in the batch nor in CDF fails (with its descendants); a cycle fails its members.

    Args:
        client: cognite-sdk client.
        resolver: Resolver to prime with the ids CDF returned (default: `get_resolver(client)`).
        data_set_id: Default data set for items without one.
        concurrency: Requests in flight at once.
        retry: Batch retry policy.
        metrics: Optional metrics hook (see `SinkMetrics`).
        chunk_size: Items per request (at most 1000).
    """

    resource = "assets"
    spec = ASSET_SPEC
    primes_resolver = True

    def to_body(self, item: AssetItem) -> dict[str, Any]:
        """The create body of an item (camelCase, Nones left out)."""
        return _compact(
            {
                "externalId": item.external_id,
                "name": item.name,
                "parentExternalId": item.parent_external_id,
                "description": item.description,
                "metadata": dict(item.metadata),
                "source": item.source,
                "dataSetId": self._data_set(item),
            }
        )

    async def write(self, items: Sequence[AssetItem]) -> WriteResult:
        """Upsert assets (any order, any size); returns what happened per external id."""
        started = time.perf_counter()
        levels, cyclic = _depth_order([self.to_body(item) for item in _dedupe(items)])
        ordered = [body for level in levels for body in level]
        chunks = [list(c) for c in chunked(ordered, self.chunk_size)]
        chunk_of = {body["externalId"]: i for i, chunk in enumerate(chunks) for body in chunk}
        done = [asyncio.Event() for _ in chunks]

        async def run(index: int) -> WriteResult:
            parents = {
                chunk_of[p]
                for body in chunks[index]
                if (p := body.get("parentExternalId")) in chunk_of and chunk_of[p] != index
            }
            for parent_chunk in sorted(parents):
                await done[parent_chunk].wait()
            try:
                return await self._upsert_one(chunks[index])
            finally:
                done[index].set()

        in_cycles = WriteResult(
            failed=[ItemFailure(x, "asset is in or under a parent cycle within the batch") for x in cyclic]
        )
        results = await asyncio.gather(*(run(i) for i in range(len(chunks))))
        return self._report(merged([in_cycles, *results]), started)


def _depth_order(bodies: list[dict[str, Any]]) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """Group bodies by depth within the batch (a parent outside the batch counts as depth -1).

    Returns:
        The levels, parents first, and the external ids in or under a parent cycle (these cannot be written).
    """
    by_xid = {b["externalId"]: b for b in bodies}
    depth: dict[str, int] = {}
    bad: set[str] = set()
    for start in by_xid:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        base: int | None
        while True:
            if node is None or node not in by_xid:
                base = -1
                break
            if node in depth:
                base = depth[node]
                break
            if node in bad or node in on_path:
                base = None
                break
            path.append(node)
            on_path.add(node)
            node = by_xid[node].get("parentExternalId")
        if base is None:
            bad.update(path)
            continue
        for xid in reversed(path):
            base += 1
            depth[xid] = base
    levels: dict[int, list[dict[str, Any]]] = {}
    for xid, body in by_xid.items():
        if xid not in bad:
            levels.setdefault(depth[xid], []).append(body)
    return [levels[d] for d in sorted(levels)], sorted(bad)


class _LinkingSink(_ResourceSink, Generic[_LinkedT]):
    def __init__(
        self,
        client: AsyncCogniteClient | CogniteClient,
        *,
        resolver: AssetIDResolver[Any] | None = None,
        on_missing_asset: OnMissingAsset = "defer",
        data_set_id: int | None = None,
        concurrency: int = 4,
        retry: BatchRetry | None = None,
        metrics: object | None = None,
        chunk_size: int = _MAX_ITEMS,
    ) -> None:
        super().__init__(
            client,
            resolver=resolver,
            data_set_id=data_set_id,
            concurrency=concurrency,
            retry=retry,
            metrics=metrics,
            chunk_size=chunk_size,
        )
        self.on_missing_asset = checked_policy(on_missing_asset)
        self.skipped_links = 0
        """Unknown asset references dropped under `skip_link` so far."""

    def _asset_refs(self, item: _LinkedT) -> Sequence[ExternalId]:
        raise NotImplementedError

    def _body(self, item: _LinkedT, asset_ids: list[AssetId]) -> dict[str, Any]:
        raise NotImplementedError

    async def prepare(self, items: Sequence[_LinkedT]) -> None:
        """Look up the asset ids `items` link to, so that writing them finds every id (or its absence) cached.

        A pipelined write calls it as a batch is sealed (see `PreparingSink`): each batch of jobs names a few parts
        CDF does not have, and without it every write waited for that lookup (one round trip per batch).
        """
        await self.resolver.resolve_async({ref for item in items for ref in self._asset_refs(item)})

    async def _link_and_upsert(self, items: Sequence[_LinkedT]) -> WriteResult:
        started = time.perf_counter()
        unique = _dedupe(items)
        refs = [list(dict.fromkeys(self._asset_refs(item))) for item in unique]
        found = await self.resolver.resolve_async({x for item_refs in refs for x in item_refs})
        failed: list[ItemFailure] = []
        bodies: list[dict[str, Any]] = []
        for item, item_refs in zip(unique, refs, strict=True):
            missing = [x for x in item_refs if x not in found]
            if missing and not self._may_write(item.external_id, missing, failed):
                continue
            bodies.append(self._body(item, [found[x] for x in item_refs if x in found]))
        result = await self._upsert(bodies) if bodies else WriteResult()
        result.failed.extend(failed)
        return self._report(result, started)

    def _may_write(self, key: str, missing: list[ExternalId], failed: list[ItemFailure]) -> bool:
        """Apply the policy to one item's unknown references; True when the item may be written."""
        if self.on_missing_asset == "skip_link":
            self.skipped_links += len(missing)
            return True
        if self.on_missing_asset == "fail":
            raise AssetsNotFoundError(missing)
        failed.append(ItemFailure(key, f"asset(s) not found in CDF yet: {', '.join(missing)}", deferred=True))
        return False


class EventSink(_LinkingSink[EventItem]):
    """Upsert events, linking `asset_external_ids` to numeric `assetIds` through the resolver.

    Args:
        client: cognite-sdk client.
        resolver: Resolver for asset ids (default: `get_resolver(client)`).
        on_missing_asset: `defer` (hold the item: `ItemFailure(deferred=True)`) | `skip_link` | `fail`.
        data_set_id: Default data set for items without one.
        concurrency: Requests in flight at once.
        retry: Batch retry policy.
        metrics: Optional metrics hook (see `SinkMetrics`).
        chunk_size: Items per request (at most 1000).
    """

    resource = "events"
    spec = EVENT_SPEC

    async def write(self, items: Sequence[EventItem]) -> WriteResult:
        """Link and upsert events; returns what happened per external id."""
        return await self._link_and_upsert(items)

    def _asset_refs(self, item: EventItem) -> Sequence[ExternalId]:
        return item.asset_external_ids

    def _body(self, item: EventItem, asset_ids: list[AssetId]) -> dict[str, Any]:
        return _compact(
            {
                "externalId": item.external_id,
                "type": item.type,
                "subtype": item.subtype,
                "startTime": item.start_time,
                "endTime": item.end_time,
                "description": item.description,
                "metadata": dict(item.metadata),
                "source": item.source,
                "assetIds": asset_ids or None,
                "dataSetId": self._data_set(item),
            }
        )


class TimeSeriesSink(_LinkingSink[TimeSeriesItem]):
    """Upsert numeric time series, linking `asset_external_id` to the numeric `assetId` through the resolver.

    Args:
        client: cognite-sdk client.
        resolver: Resolver for asset ids (default: `get_resolver(client)`).
        on_missing_asset: `defer` (hold the item: `ItemFailure(deferred=True)`) | `skip_link` | `fail`.
        data_set_id: Default data set for items without one.
        concurrency: Requests in flight at once.
        retry: Batch retry policy.
        metrics: Optional metrics hook (see `SinkMetrics`).
        chunk_size: Items per request (at most 1000).
    """

    resource = "timeseries"
    spec = TIMESERIES_SPEC

    async def write(self, items: Sequence[TimeSeriesItem]) -> WriteResult:
        """Link and upsert time series; returns what happened per external id."""
        return await self._link_and_upsert(items)

    def _asset_refs(self, item: TimeSeriesItem) -> Sequence[ExternalId]:
        return [item.asset_external_id] if item.asset_external_id else []

    def _body(self, item: TimeSeriesItem, asset_ids: list[AssetId]) -> dict[str, Any]:
        return _compact(
            {
                "externalId": item.external_id,
                "name": item.name,
                "unit": item.unit,
                "description": item.description,
                "metadata": dict(item.metadata),
                "isStep": item.is_step,
                "isString": False,
                "assetId": asset_ids[0] if asset_ids else None,
                "dataSetId": self._data_set(item),
            }
        )
