"""Datapoints and RAW sinks (keyed by timestamp and by row key, so every write is naturally idempotent)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cognite.client import AsyncCogniteClient, CogniteClient
from cognite.client.exceptions import CogniteNotFoundError

from plex_cognite.cdf._batching import chunked
from plex_cognite.cdf._datapoints import PointArray, encode_insert_body, prepare_datapoints
from plex_cognite.cdf._sink_base import SinkBase, merged
from plex_cognite.cdf._upsert import BatchRetry
from plex_cognite.cdf.items import DatapointsItem, RawRowItem
from plex_cognite.core.results import ItemFailure, WriteResult

__all__ = ["DatapointsSink", "RawDeleteResult", "RawSink"]

MAX_DATAPOINTS_PER_REQUEST = 100_000
MAX_SERIES_PER_REQUEST = 10_000
MAX_RAW_ROWS_PER_REQUEST = 5_000
MAX_RAW_KEYS_PER_DELETE = 1_000

_Request = list[tuple[str, PointArray]]


class DatapointsSink(SinkBase):
    """Insert numeric datapoints by time series external id.

    Points are sanitised the way CDF requires (integer timestamps within 1900..2099, finite values within +-1e100;
    rejects are listed in `WriteResult.failed` as permanent failures keyed `"{external_id}@{timestamp}"`), points
    sharing a millisecond on one series are **summed**, and requests are packed up to 100,000 points (and 10,000
    series). A series that does not exist fails with its points; the rest is written. Re-writing a point replaces
    it, so retries are safe.

    Args:
        client: cognite-sdk client.
        concurrency: Requests in flight at once.
        retry: Batch retry policy.
        metrics: Optional metrics hook (see `SinkMetrics`).
        max_points_per_request: Points per request (at most 100,000).
    """

    resource = "datapoints"

    def __init__(
        self,
        client: AsyncCogniteClient | CogniteClient,
        *,
        concurrency: int = 4,
        retry: BatchRetry | None = None,
        metrics: object | None = None,
        max_points_per_request: int = MAX_DATAPOINTS_PER_REQUEST,
    ) -> None:
        super().__init__(client, concurrency=concurrency, retry=retry, metrics=metrics)
        if not 1 <= max_points_per_request <= MAX_DATAPOINTS_PER_REQUEST:
            raise ValueError(f"max_points_per_request must be within 1..{MAX_DATAPOINTS_PER_REQUEST}")
        self.max_points_per_request = max_points_per_request

    async def write(self, items: Sequence[DatapointsItem]) -> WriteResult:
        """Sanitise, merge and insert datapoints; per-series outcome in `created`/`failed`."""
        started = time.perf_counter()
        merged: dict[str, list[Sequence[tuple[int, float]]]] = {}
        for item in items:
            merged.setdefault(item.external_id, []).append(item.datapoints)
        total = WriteResult()
        series: dict[str, PointArray] = {}
        for xid, parts in merged.items():
            prepared = prepare_datapoints(_joined(parts))
            total.failed.extend(
                ItemFailure(f"{xid}@{ts}", f"CDF cannot store the datapoint: {reason}", permanent=True)
                for ts, _, reason in prepared.rejected
            )
            if prepared.points:
                series[xid] = prepared.points
        requests = self._pack(series)
        results = await asyncio.gather(
            *(
                self._guarded(list(dict.fromkeys(x for x, _ in req)), functools.partial(self._insert, req))
                for req in requests
            )
        )
        written: set[str] = set()
        broken: set[str] = set()
        for result in results:
            written.update(result.created)
            broken.update(f.key for f in result.failed)
            total.failed.extend(result.failed)
            total.requests += result.requests
            total.datapoints += result.datapoints
        total.created.extend(x for x in series if x in written and x not in broken)
        return self._report(total, started)

    def series_identifier(self, key: str) -> dict[str, Any]:
        """How a request names the series of a `DatapointsItem` key: `{"externalId": key}`."""
        return {"externalId": key}

    def missing_key(self, identifier: dict[str, Any]) -> str | None:
        """The item key an entry of CDF's `missing` list names (the inverse of `series_identifier`)."""
        xid = identifier.get("externalId")
        return xid if isinstance(xid, str) else None

    def _pack(self, series: dict[str, PointArray]) -> list[_Request]:
        requests: list[_Request] = []
        current: _Request = []
        room = self.max_points_per_request
        for xid, points in series.items():
            start = 0
            while start < len(points):
                if room == 0 or len(current) >= MAX_SERIES_PER_REQUEST:
                    requests.append(current)
                    current, room = [], self.max_points_per_request
                take = min(room, len(points) - start)
                current.append((xid, points[start : start + take]))
                room -= take
                start += take
        if current:
            requests.append(current)
        return requests

    async def _insert(self, request: _Request) -> WriteResult:
        result = WriteResult()
        pending = request
        while pending:
            body = encode_insert_body(pending, identify=self.series_identifier)
            try:
                result.requests += 1
                await self.retry.acall(functools.partial(self.api.post_no_answer, "/timeseries/data", body))
            except CogniteNotFoundError as exc:
                missing = {self.missing_key(m) for m in exc.missing or [] if isinstance(m, dict)}
                if not missing.intersection(x for x, _ in pending):
                    raise
                for xid in dict.fromkeys(x for x, _ in pending if x in missing):
                    result.failed.append(ItemFailure(xid, f"time series {xid!r} does not exist in CDF"))
                pending = [(x, p) for x, p in pending if x not in missing]
                continue
            result.created.extend(dict.fromkeys(x for x, _ in pending))
            result.datapoints += sum(len(points) for _, points in pending)
            break
        return result


def _joined(parts: list[Sequence[tuple[int, float]]]) -> Iterable[tuple[int, float]]:
    """One series' points from several items: one `PointArray` where they all are one (kept compact), else a chain."""
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(part, PointArray) for part in parts):
        joined = PointArray()
        for part in parts:
            joined.extend(part)
        return joined
    return itertools.chain.from_iterable(parts)


@dataclass(slots=True)
class RawDeleteResult:
    """What `RawSink.delete` did.

    Attributes:
        deleted: Keys no longer in the table (deleted now, or not there in the first place).
        failed: Keys of batches that failed after retries (still there, maybe); delete them again next run.
        requests: Delete requests sent.
    """

    deleted: list[str] = field(default_factory=list)
    failed: list[ItemFailure] = field(default_factory=list)
    requests: int = 0


class RawSink(SinkBase):
    """Insert rows into one CDF RAW table (created on demand), 5,000 rows per request.

    Rows with the same key in one write are de-duplicated (the last wins); written keys are reported as `created`
    (RAW does not say whether a row existed before).

    Args:
        client: cognite-sdk client.
        database: RAW database name.
        table: RAW table name.
        ensure_parent: Create the database and table when missing.
        concurrency: Requests in flight at once.
        retry: Batch retry policy.
        metrics: Optional metrics hook (see `SinkMetrics`).
    """

    resource = "raw"

    def __init__(
        self,
        client: AsyncCogniteClient | CogniteClient,
        database: str,
        table: str,
        *,
        ensure_parent: bool = True,
        concurrency: int = 2,
        retry: BatchRetry | None = None,
        metrics: object | None = None,
    ) -> None:
        super().__init__(client, concurrency=concurrency, retry=retry, metrics=metrics)
        self.database = database
        self.table = table
        self.ensure_parent = ensure_parent
        self._path = f"/raw/dbs/{quote(database, safe='')}/tables/{quote(table, safe='')}/rows"

    async def write(self, items: Sequence[RawRowItem]) -> WriteResult:
        """Insert (replace) rows; returns the written keys."""
        started = time.perf_counter()
        rows = list({item.key: item for item in items}.values())
        results = await asyncio.gather(
            *(
                self._guarded([r.key for r in chunk], functools.partial(self._insert, chunk))
                for chunk in chunked(rows, MAX_RAW_ROWS_PER_REQUEST)
            )
        )
        return self._report(merged(results), started)

    async def delete(self, keys: Sequence[str]) -> RawDeleteResult:
        """Delete rows by key (`POST .../rows/delete`, 1,000 keys per request, each batch retried).

        Deleting is idempotent: a key that is not in the table, or a table that does not exist, counts as deleted.
        This method deletes exactly the keys it is given; which keys are safe to delete is the caller's decision
        (see `plex_cognite.extractors._inventory.raw_keys_to_delete`).

        Args:
            keys: Row keys (duplicates are sent once).

        Returns:
            The deleted and the failed keys, and the number of requests.

        Raises:
            CogniteWriteError: CDF refused the credentials or the access (401/403).
        """
        unique = list(dict.fromkeys(keys))
        results = await asyncio.gather(
            *(
                self._guarded(chunk, functools.partial(self._delete_chunk, chunk))
                for chunk in chunked(unique, MAX_RAW_KEYS_PER_DELETE)
            )
        )
        total = merged(results)
        return RawDeleteResult(deleted=total.updated, failed=total.failed, requests=total.requests)

    async def _delete_chunk(self, keys: Sequence[str]) -> WriteResult:
        body = {"items": [{"key": key} for key in keys]}
        with contextlib.suppress(CogniteNotFoundError):  # no such table (or database): nothing to delete
            await self.retry.acall(functools.partial(self.api.post_no_answer, f"{self._path}/delete", body))
        # `updated` carries the deleted keys through the shared chunk plumbing (see `delete`).
        return WriteResult(updated=list(keys), requests=1)

    async def _insert(self, rows: Sequence[RawRowItem]) -> WriteResult:
        body = {"items": [{"key": r.key, "columns": dict(r.columns)} for r in rows]}
        params = {"ensureParent": "true" if self.ensure_parent else "false"}
        await self.retry.acall(functools.partial(self.api.post_no_answer, self._path, body, params))
        return WriteResult(created=[r.key for r in rows], requests=1)
