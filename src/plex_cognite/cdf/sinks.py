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
from typing import Any

from cognite.client import AsyncCogniteClient, CogniteClient

from plex_cognite.cdf._batching import chunked
from plex_cognite.cdf._data_sinks import DatapointsSink, RawSink
from plex_cognite.cdf._sink_base import SinkBase, SinkMetrics
from plex_cognite.cdf._upsert import BatchRetry, ResourceSpec, upsert_chunk
from plex_cognite.cdf.items import AssetItem, EventItem, TimeSeriesItem
from plex_cognite.cdf.linker import AssetsNotFoundError, OnMissingAsset
from plex_cognite.cdf.resolver import AssetIDResolver, get_resolver
from plex_cognite.core.results import ItemFailure, WriteResult
from plex_cognite.typing import AssetId, ExternalId

__all__ = ["AssetSink", "DatapointsSink", "EventSink", "RawSink", "SinkMetrics", "TimeSeriesSink"]

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


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None and v != {}}


def _dedupe(items: Sequence[Any]) -> list[Any]:
    """Keep the last item per external id (one create request may not name an external id twice)."""
    return list({item.external_id: item for item in items}.values())


class _ResourceSink(SinkBase):
    spec: ResourceSpec

    def __init__(
        self,
        client: AsyncCogniteClient | CogniteClient,
        *,
        data_set_id: int | None = None,
        concurrency: int = 4,
        retry: BatchRetry | None = None,
        metrics: object | None = None,
        chunk_size: int = _MAX_ITEMS,
    ) -> None:
        super().__init__(client, concurrency=concurrency, retry=retry, metrics=metrics)
        if not 1 <= chunk_size <= _MAX_ITEMS:
            raise ValueError(f"chunk_size must be within 1..{_MAX_ITEMS}, got {chunk_size}")
        self.data_set_id = data_set_id
        self.chunk_size = chunk_size

    async def _upsert(self, bodies: Sequence[dict[str, Any]], *, collect_objects: bool = False) -> WriteResult:
        results = await asyncio.gather(
            *(self._upsert_one(list(chunk), collect_objects) for chunk in chunked(bodies, self.chunk_size))
        )
        total = WriteResult()
        for result in results:
            total.merge(result)
        return total

    async def _upsert_one(self, chunk: list[dict[str, Any]], collect_objects: bool) -> WriteResult:
        async def run() -> WriteResult:
            outcome = await upsert_chunk(self.api, self.spec, chunk, self.retry, collect_objects=collect_objects)
            await self._after_chunk(outcome.objects)
            return outcome.result

        return await self._guarded([b["externalId"] for b in chunk], run)

    async def _after_chunk(self, objects: list[dict[str, Any]]) -> None:
        """Hook for what CDF returned (the asset sink primes the resolver)."""


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
        super().__init__(
            client,
            data_set_id=data_set_id,
            concurrency=concurrency,
            retry=retry,
            metrics=metrics,
            chunk_size=chunk_size,
        )
        self.resolver = resolver if resolver is not None else get_resolver(client)

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
                "dataSetId": item.data_set_id if item.data_set_id is not None else self.data_set_id,
            }
        )

    async def write(self, items: Sequence[AssetItem]) -> WriteResult:
        """Upsert assets (any order, any size); returns what happened per external id."""
        started = time.perf_counter()
        bodies = [self.to_body(item) for item in _dedupe(items)]
        levels, cyclic = _depth_order(bodies)
        total = WriteResult(
            failed=[ItemFailure(x, "asset is in or under a parent cycle within the batch") for x in cyclic]
        )
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
                return await self._upsert_one(chunks[index], collect_objects=True)
            finally:
                done[index].set()

        for result in await asyncio.gather(*(run(i) for i in range(len(chunks)))):
            total.merge(result)
        return self._report(total, started)

    async def _after_chunk(self, objects: list[dict[str, Any]]) -> None:
        if objects:
            await self.resolver.prime_async(objects)


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


class _LinkingSink(_ResourceSink):
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
            data_set_id=data_set_id,
            concurrency=concurrency,
            retry=retry,
            metrics=metrics,
            chunk_size=chunk_size,
        )
        if on_missing_asset not in ("defer", "skip_link", "fail"):
            raise ValueError(f"on_missing_asset must be one of defer, skip_link, fail; got {on_missing_asset!r}")
        self.resolver = resolver if resolver is not None else get_resolver(client)
        self.on_missing_asset: OnMissingAsset = on_missing_asset
        self.skipped_links = 0
        """Unknown asset references dropped under `skip_link` so far."""

    def _check_missing(self, key: str, missing: list[ExternalId], failed: list[ItemFailure]) -> bool:
        """Apply the policy to one item's unknown references; True when the item may be written."""
        if not missing:
            return True
        if self.on_missing_asset == "skip_link":
            self.skipped_links += len(missing)
            return True
        if self.on_missing_asset == "fail":
            raise AssetsNotFoundError(missing)
        failed.append(ItemFailure(key, f"asset(s) not found in CDF yet: {', '.join(missing)}", deferred=True))
        return False


class EventSink(_LinkingSink):
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
        started = time.perf_counter()
        unique = _dedupe(items)
        found = await self.resolver.resolve_async({x for item in unique for x in item.asset_external_ids})
        failed: list[ItemFailure] = []
        bodies: list[dict[str, Any]] = []
        default_ds = self.data_set_id
        for item in unique:
            refs = list(dict.fromkeys(item.asset_external_ids))
            ids: list[AssetId] = [found[x] for x in refs if x in found]
            if len(ids) != len(refs) and not self._check_missing(
                item.external_id, [x for x in refs if x not in found], failed
            ):
                continue
            body: dict[str, Any] = {"externalId": item.external_id}
            for key, value in (
                ("type", item.type),
                ("subtype", item.subtype),
                ("startTime", item.start_time),
                ("endTime", item.end_time),
                ("description", item.description),
                ("source", item.source),
                ("dataSetId", item.data_set_id if item.data_set_id is not None else default_ds),
            ):
                if value is not None:
                    body[key] = value
            if item.metadata:
                body["metadata"] = dict(item.metadata)
            if ids:
                body["assetIds"] = ids
            bodies.append(body)
        result = await self._upsert(bodies) if bodies else WriteResult()
        result.failed.extend(failed)
        return self._report(result, started)


class TimeSeriesSink(_LinkingSink):
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
        started = time.perf_counter()
        unique = _dedupe(items)
        found = await self.resolver.resolve_async({i.asset_external_id for i in unique if i.asset_external_id})
        failed: list[ItemFailure] = []
        bodies: list[dict[str, Any]] = []
        for item in unique:
            ref = item.asset_external_id
            asset_id = found.get(ref) if ref else None
            if ref and asset_id is None and not self._check_missing(item.external_id, [ref], failed):
                continue
            bodies.append(
                _compact(
                    {
                        "externalId": item.external_id,
                        "name": item.name,
                        "unit": item.unit,
                        "description": item.description,
                        "metadata": dict(item.metadata),
                        "isStep": item.is_step,
                        "isString": False,
                        "assetId": asset_id,
                        "dataSetId": item.data_set_id if item.data_set_id is not None else self.data_set_id,
                    }
                )
            )
        result = await self._upsert(bodies) if bodies else WriteResult()
        result.failed.extend(failed)
        return self._report(result, started)
