"""`NodeSink`: write Core Data Model node items with `instances/apply`, isolating the nodes CDF rejects.

One `write` call:

1. De-duplicates the items by key (the last wins) and orders them parents first (the source system node, then
   assets from the root down, then everything else), so a batch never points at a node a later batch creates.
2. Applies them in batches of at most 1000 nodes, one request at a time (CDF's data-modeling write budget is
   small), with `replace=false` (patch: properties an item leaves unset keep their value in CDF) and
   `autoCreateDirectRelations=true` (a relation to a node that does not exist yet creates an empty node, which the
   real node fills in when it arrives).
3. A batch that fails is retried whole under the batch retry policy (429 and 5xx), and on a version conflict
   (another writer changed a node in between: CDF's 400 "A version conflict caused the ingest to fail.", or a
   409) a few more times. A batch CDF rejects as invalid (any other 400, or 422) is split in halves until the bad
   node is alone: it is reported as a permanent failure (`ItemFailure` with `permanent=True`, to be
   dead-lettered) and the rest of the batch lands.

Re-applying a node is idempotent (same properties, same node); CDF reports it as not modified, which the sink lists
as `unchanged`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Sequence
from typing import Any

from cognite.client import AsyncCogniteClient, CogniteClient
from cognite.client.exceptions import CogniteAPIError

from plex_cognite.cdf._sink_base import SinkBase, merged
from plex_cognite.cdf._upsert import BatchRetry
from plex_cognite.cdf.datamodeling.items import DEFAULT_INSTANCE_SPACE, AssetNode, NodeItem, SourceSystemNode
from plex_cognite.core.results import ItemFailure, WriteResult

__all__ = ["MAX_NODES_PER_REQUEST", "NodeSink", "is_version_conflict"]

MAX_NODES_PER_REQUEST = 1000
_INVALID_STATUSES = frozenset({400, 422})


def is_version_conflict(exc: CogniteAPIError) -> bool:
    """Whether CDF refused an apply because a node changed under it (worth another attempt, not a bad node)."""
    return exc.code == 409 or (exc.code == 400 and "version conflict" in str(exc.message).lower())


def _parents_first(items: Sequence[NodeItem]) -> list[NodeItem]:
    """Source systems, then assets by depth (parents before children), then the rest, each in input order."""
    assets = {item.external_id: item for item in items if isinstance(item, AssetNode)}
    depth: dict[str, int] = {}

    def depth_of(xid: str) -> int:
        chain: list[str] = []
        current: str | None = xid
        while current is not None and current in assets and current not in depth and current not in chain:
            chain.append(current)
            current = assets[current].parent
        known = depth.get(current, -1) if current is not None else -1
        for offset, name in enumerate(reversed(chain), start=1):
            depth[name] = known + offset
        return depth[xid]

    def rank(item: NodeItem) -> tuple[int, int]:
        if isinstance(item, SourceSystemNode):
            return (0, 0)
        if isinstance(item, AssetNode):
            return (1, depth_of(item.external_id))
        return (2, 0)

    return sorted(items, key=rank)


class NodeSink(SinkBase):
    """Apply CDM node items (`AssetNode`, `ActivityNode`, `TimeSeriesNode`, `SourceSystemNode`) to one space.

    Args:
        client: cognite-sdk client.
        instance_space: The space every node is written to (items of another space are written to theirs).
        ensure_space: Create the instance space on the first write when it does not exist.
        auto_create_direct_relations: Let CDF create empty target nodes for relations to nodes that do not exist.
        batch_size: Nodes per request (at most 1000).
        version_conflict_retries: Extra attempts of a batch that met a version conflict.
        retry: Batch retry policy (429/5xx).
        metrics: Optional metrics hook (see `SinkMetrics`).
    """

    resource = "nodes"

    def __init__(
        self,
        client: AsyncCogniteClient | CogniteClient,
        *,
        instance_space: str = DEFAULT_INSTANCE_SPACE,
        ensure_space: bool = True,
        auto_create_direct_relations: bool = True,
        batch_size: int = MAX_NODES_PER_REQUEST,
        version_conflict_retries: int = 3,
        retry: BatchRetry | None = None,
        metrics: object | None = None,
    ) -> None:
        super().__init__(client, concurrency=1, retry=retry, metrics=metrics)
        if not 1 <= batch_size <= MAX_NODES_PER_REQUEST:
            raise ValueError(f"batch_size must be within 1..{MAX_NODES_PER_REQUEST}, got {batch_size}")
        if version_conflict_retries < 0:
            raise ValueError(f"version_conflict_retries must be >= 0, got {version_conflict_retries}")
        self.instance_space = instance_space
        self.ensure_space = ensure_space
        self.auto_create_direct_relations = auto_create_direct_relations
        self.batch_size = batch_size
        self.version_conflict_retries = version_conflict_retries
        self._spaces_ready: set[str] = set()

    async def write(self, items: Sequence[NodeItem]) -> WriteResult:
        """Apply the nodes; per-node outcome in `created` / `updated` / `unchanged` / `failed`."""
        started = time.perf_counter()
        nodes = _parents_first(list({(item.space, item.key): item for item in items}.values()))
        if not nodes:
            return self._report(WriteResult(), started)
        total = WriteResult()
        if self.ensure_space:
            total.requests += await self._ensure_spaces({node.space for node in nodes})
        results = []
        for start in range(0, len(nodes), self.batch_size):
            batch = nodes[start : start + self.batch_size]
            results.append(await self._guarded([n.key for n in batch], functools.partial(self._apply_isolating, batch)))
        return self._report(total.merge(merged(results)), started)

    async def _ensure_spaces(self, spaces: set[str]) -> int:
        todo = sorted(spaces - self._spaces_ready)
        if not todo:
            return 0
        body = {"items": [{"space": space} for space in todo]}
        await self.retry.acall(functools.partial(self.api.post_no_answer, "/models/spaces", body))
        self._spaces_ready.update(todo)
        return 1

    async def _apply_isolating(self, batch: Sequence[NodeItem]) -> WriteResult:
        """Apply `batch`; when CDF rejects it as invalid, split it until each bad node stands alone."""
        try:
            return await self._apply(batch)
        except CogniteAPIError as exc:
            if exc.code not in _INVALID_STATUSES or is_version_conflict(exc):
                raise
            if len(batch) == 1:
                reason = f"CDF rejected node {batch[0].key!r}: {exc.message}"[:500]
                return WriteResult(failed=[ItemFailure(batch[0].key, reason, permanent=True)], requests=1)
            middle = len(batch) // 2
            first = await self._apply_isolating(batch[:middle])
            second = await self._apply_isolating(batch[middle:])
            return WriteResult(requests=1).merge(first).merge(second)

    async def _apply(self, batch: Sequence[NodeItem]) -> WriteResult:
        body: dict[str, Any] = {
            "items": [node.node_json() for node in batch],
            "autoCreateDirectRelations": self.auto_create_direct_relations,
            "autoCreateStartNodes": False,
            "autoCreateEndNodes": False,
            "skipOnVersionConflict": False,
            "replace": False,
        }
        attempts = 0
        for conflicts in range(self.version_conflict_retries + 1):
            try:
                attempts += 1
                answer = await self.retry.acall(functools.partial(self.api.post, "/models/instances", body))
                break
            except CogniteAPIError as exc:
                if not is_version_conflict(exc) or conflicts == self.version_conflict_retries:
                    raise
                await asyncio.sleep(0.05 * 2**conflicts)
        return _outcome(answer, attempts)


def _outcome(answer: Any, requests: int) -> WriteResult:
    result = WriteResult(requests=requests)
    for item in answer.get("items", []) if isinstance(answer, dict) else []:
        xid = item.get("externalId")
        if not item.get("wasModified", True):
            result.unchanged.append(xid)
        elif item.get("version") == 1:
            result.created.append(xid)
        else:
            result.updated.append(xid)
    return result
