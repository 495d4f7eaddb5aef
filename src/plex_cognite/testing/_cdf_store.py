"""FakeCDF's in-memory state and the semantics of the classic resource endpoints.

Every public method takes the parsed JSON body of one request, validates the whole request first and only then
applies it (so any error leaves the store untouched), all under one re-entrant lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from plex_cognite.testing import _cdf_assets as assets
from plex_cognite.testing._cdf_datapoints import DatapointStore
from plex_cognite.testing._cdf_errors import CDFError, Identifier, bad_request, unique_identifiers
from plex_cognite.testing._cdf_instances import InstanceStore
from plex_cognite.testing._cdf_raw import RawStore
from plex_cognite.testing._cdf_resources import FIELDS, compile_filter
from plex_cognite.testing._cdf_table import (
    MAX_ITEMS,
    Record,
    Table,
    apply_update,
    as_object,
    body_items,
    check_create,
    limit_of,
    resolve_all,
)

KINDS = ("assets", "events", "timeseries", "datasets", "extpipes")
RUN_STATUSES = frozenset({"success", "failure", "seen"})
_FIRST_ID = 1_000_000_000_000


class CDFStore:
    """All FakeCDF state: classic resources, datapoints, RAW and extraction pipeline runs.

    Args:
        seed: seeds the id generator, so ids are reproducible run to run.
    """

    def __init__(self, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self._id_random = random.Random(seed)
        self._last_id = _FIRST_ID + self._id_random.randrange(1_000_000)
        self.tables: dict[str, Table] = {kind: Table(kind) for kind in KINDS}
        self.children: dict[int, set[int]] = {}
        self.datapoints = DatapointStore()
        self.raw = RawStore(self.now_ms)
        self.instances = InstanceStore(self)
        self.runs: list[Record] = []
        self.version = 0

    # -- helpers ---------------------------------------------------------------------------------------------------

    @staticmethod
    def now_ms() -> int:
        """Wall-clock time in epoch milliseconds."""
        return time.time_ns() // 1_000_000

    def new_id(self) -> int:
        """A fresh, unique, increasing but non-contiguous numeric id."""
        self._last_id += 1 + int(self._id_random.random() * 997)
        return self._last_id

    def render(self, kind: str, record: Record) -> Record:
        """The object as the API returns it."""
        if kind == "assets":
            return assets.render(self, record)
        return record

    def subtree(self, roots: Iterable[int]) -> set[int]:
        """Ids of the given assets and all their descendants."""
        found: set[int] = set()
        stack = [root for root in roots if root in self.tables["assets"].by_id]
        while stack:
            asset_id = stack.pop()
            if asset_id not in found:
                found.add(asset_id)
                stack.extend(self.children.get(asset_id, ()))
        return found

    def reset(self) -> None:
        """Forget everything (ids keep increasing)."""
        with self.lock:
            for table in self.tables.values():
                table.clear()
            self.children.clear()
            self.datapoints.clear()
            self.raw.clear()
            self.instances.clear()
            self.runs.clear()
            self.version += 1

    # -- reference checks ------------------------------------------------------------------------------------------

    def check_references(self, kind: str, records: Iterable[Record]) -> None:
        """400 `missing` for unknown `dataSetId`, `assetIds` (events) or `assetId` (time series)."""
        missing_assets: list[Identifier] = []
        missing_sets: list[Identifier] = []
        asset_table, set_table = self.tables["assets"], self.tables["datasets"]
        for record in records:
            data_set = record.get("dataSetId")
            if data_set is not None and data_set not in set_table.by_id:
                missing_sets.append({"id": data_set})
            if kind == "events":
                missing_assets.extend({"id": a} for a in record.get("assetIds", ()) if a not in asset_table.by_id)
            elif kind == "timeseries" and "assetId" in record and record["assetId"] not in asset_table.by_id:
                missing_assets.append({"id": record["assetId"]})
        if missing_sets:
            raise CDFError(400, "Data sets not found", missing=unique_identifiers(missing_sets))
        if missing_assets:
            raise CDFError(400, "Reference to unknown asset ids", missing=unique_identifiers(missing_assets))

    def check_unique_xids(
        self, kind: str, records: Iterable[Record], renamed: Mapping[int, str | None] | None = None
    ) -> None:
        """409 `duplicated` when an externalId is taken (by a stored object or twice in the request)."""
        table = self.tables[kind]
        seen: set[str] = set()
        duplicated: list[Identifier] = []
        for record in records:
            xid = record.get("externalId")
            if xid is None:
                continue
            owner = table.by_xid.get(xid)
            taken = owner is not None and owner != record.get("id")
            if owner is not None and taken and renamed is not None and owner in renamed and renamed[owner] != xid:
                taken = False  # the current owner gives the externalId up in this same request
            if xid in seen or taken:
                duplicated.append({"externalId": xid})
            seen.add(xid)
        if duplicated:
            raise CDFError(409, "Duplicate external ids", duplicated=unique_identifiers(duplicated))

    @staticmethod
    def check_kind_rules(kind: str, record: Record) -> None:
        """Per-resource invariants (event time order, time series type)."""
        if kind == "events":
            start, end = record.get("startTime"), record.get("endTime")
            if start is not None and end is not None and end < start:
                raise bad_request(f"Event {record.get('externalId')!r}: endTime must be >= startTime")
            for name in ("startTime", "endTime"):
                if name in record and record[name] < 0:
                    raise bad_request(f"Event {record.get('externalId')!r}: {name} must be >= 0")

    # -- classic endpoints -----------------------------------------------------------------------------------------

    def create(self, kind: str, body: object) -> list[Record]:
        """`POST /{kind}`: create 1..1000 objects atomically."""
        items = body_items(body)
        if kind == "assets":
            with self.lock:
                return assets.create(self, items)
        fields = FIELDS[kind]
        records = [check_create(kind, fields, item) for item in items]
        for record in records:
            self.check_kind_rules(kind, record)
            if kind == "timeseries":
                record.setdefault("isString", False)
                record.setdefault("isStep", False)
                record["type"] = "string" if record["isString"] else "numeric"
            if kind == "datasets":
                record.setdefault("writeProtected", False)
        with self.lock:
            self.check_unique_xids(kind, records)
            self.check_references(kind, records)
            now = self.now_ms()
            table = self.tables[kind]
            for record in records:
                record["id"] = self.new_id()
                record["createdTime"] = record["lastUpdatedTime"] = now
                table.put(record)
            self.version += 1
            return [self.render(kind, record) for record in records]

    def retrieve(self, kind: str, body: object) -> list[Record]:
        """`POST /{kind}/byids`."""
        items = body_items(body)
        ignore = bool(as_object(body).get("ignoreUnknownIds", False))
        with self.lock:
            table = self.tables[kind]
            resolved = resolve_all(table, items, ignore_unknown=ignore)
            return [self.render(kind, table.by_id[object_id]) for _, object_id in resolved if object_id is not None]

    def list_page(self, kind: str, body: object) -> tuple[list[Record], str | None]:
        """`POST /{kind}/list` (and the GET form): filter, limit, cursor, partition."""
        if not isinstance(body, dict):
            raise bad_request("Request body must be a JSON object")
        limit = limit_of(body)
        with self.lock:
            predicate = compile_filter(self, kind, body.get("filter"))
            page, cursor = self.tables[kind].page(predicate, limit, body.get("cursor"), body.get("partition"))
            return [self.render(kind, record) for record in page], cursor

    def count(self, kind: str, body: object) -> int:
        """`POST /{kind}/aggregate` with the default count aggregate."""
        filter_body = body.get("filter") if isinstance(body, dict) else None
        with self.lock:
            predicate = compile_filter(self, kind, filter_body)
            return sum(1 for record in self.tables[kind].by_id.values() if predicate(record))

    def update(self, kind: str, body: object) -> list[Record]:
        """`POST /{kind}/update`: apply set / setNull / add / remove to 1..1000 objects atomically."""
        items = body_items(body)
        with self.lock:
            table = self.tables[kind]
            resolved = resolve_all(table, items, ignore_unknown=False)
            ids = [object_id for _, object_id in resolved if object_id is not None]
            new_records = [
                apply_update(kind, FIELDS[kind], table.by_id[object_id], item.get("update"))
                for object_id, item in zip(ids, items, strict=True)
            ]
            if kind == "assets":
                return assets.commit_update(self, items, new_records)
            for record in new_records:
                self.check_kind_rules(kind, record)
            renamed = {record["id"]: record.get("externalId") for record in new_records}
            self.check_unique_xids(kind, new_records, renamed)
            self.check_references(kind, new_records)
            self.commit(kind, new_records)
            return [self.render(kind, record) for record in new_records]

    def commit(self, kind: str, records: Iterable[Record]) -> None:
        """Store updated objects (stamping `lastUpdatedTime`)."""
        table, now = self.tables[kind], self.now_ms()
        records = list(records)
        for record in records:  # free renamed externalIds first, so swaps inside one request work
            old = table.by_id[record["id"]]
            if old.get("externalId") is not None and table.by_xid.get(old["externalId"]) == record["id"]:
                del table.by_xid[old["externalId"]]
        for record in records:
            record["lastUpdatedTime"] = now
            table.put(record)
        self.version += 1

    def delete(self, kind: str, body: object) -> None:
        """`POST /{kind}/delete` (assets also take `recursive`)."""
        items = body_items(body)
        options = as_object(body)
        with self.lock:
            table = self.tables[kind]
            resolved = resolve_all(table, items, ignore_unknown=bool(options.get("ignoreUnknownIds", False)))
            ids = {object_id for _, object_id in resolved if object_id is not None}
            if kind == "assets":
                assets.delete(self, ids, recursive=bool(options.get("recursive", False)))
                return
            for object_id in ids:
                table.remove(object_id)
                if kind == "timeseries":
                    self.datapoints.drop(object_id)
            self.version += 1

    # -- extraction pipeline runs ----------------------------------------------------------------------------------

    def create_runs(self, body: object) -> list[Record]:
        """`POST /extpipes/runs`: report `success` / `failure` / `seen` for existing pipelines."""
        items = body_items(body, limit=MAX_ITEMS)
        pipes = self.tables["extpipes"]
        runs: list[Record] = []
        for item in items:
            xid, status = item.get("externalId"), item.get("status")
            if not isinstance(xid, str):
                raise bad_request("extpipes run: externalId (string) is required")
            if status not in RUN_STATUSES:
                raise bad_request(f"extpipes run: status must be one of {sorted(RUN_STATUSES)}, got {status!r}")
            message = item.get("message")
            if message is not None and (not isinstance(message, str) or len(message) > 1000):
                raise bad_request("extpipes run: message must be a string of at most 1000 characters")
            runs.append({"externalId": xid, "status": status, **({"message": message} if message else {})})
        with self.lock:
            missing: list[Identifier] = [
                {"externalId": run["externalId"]} for run in runs if run["externalId"] not in pipes.by_xid
            ]
            if missing:
                raise CDFError(400, "Extraction pipelines not found", missing=unique_identifiers(missing))
            now = self.now_ms()
            for run, item in zip(runs, items, strict=True):
                run["id"] = self.new_id()
                run["createdTime"] = item.get("createdTime") if isinstance(item.get("createdTime"), int) else now
                self._touch_pipeline(pipes, run)
                self.runs.append(run)
            self.version += 1
            return [dict(run) for run in runs]

    def _touch_pipeline(self, pipes: Table, run: Record) -> None:
        pipe = dict(pipes.by_id[pipes.by_xid[run["externalId"]]])
        pipe["lastSeen"] = run["createdTime"]
        if run["status"] == "success":
            pipe["lastSuccess"] = run["createdTime"]
        elif run["status"] == "failure":
            pipe["lastFailure"] = run["createdTime"]
            pipe["lastMessage"] = run.get("message", "")
        pipes.put(pipe)

    def list_runs(self, body: object) -> list[Record]:
        """`POST /extpipes/runs/list`: runs of one pipeline, newest first."""
        filter_body = body.get("filter") if isinstance(body, dict) else None
        if not isinstance(filter_body, dict) or not isinstance(filter_body.get("externalId"), str):
            raise bad_request("filter.externalId is required")
        statuses = filter_body.get("statuses")
        limit = limit_of(as_object(body))
        with self.lock:
            runs = [
                dict(run)
                for run in reversed(self.runs)
                if run["externalId"] == filter_body["externalId"] and (not statuses or run["status"] in statuses)
            ]
        return runs[:limit]

    # -- persistence -----------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything, as one JSON-serialisable object (see `restore`)."""
        with self.lock:
            return {
                "format": 1,
                "last_id": self._last_id,
                "tables": {kind: list(table.by_id.values()) for kind, table in self.tables.items()},
                "datapoints": self.datapoints.snapshot(),
                "raw": self.raw.snapshot(),
                "instances": self.instances.snapshot(),
                "runs": list(self.runs),
            }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace the state with a `snapshot()`."""
        with self.lock:
            self.reset()
            self._last_id = max(self._last_id, int(state.get("last_id", 0)))
            for kind, records in state.get("tables", {}).items():
                table = self.tables[kind]
                for record in sorted(records, key=lambda r: r["id"]):
                    table.put(record)
                    if kind == "assets" and "parentId" in record:
                        self.children.setdefault(record["parentId"], set()).add(record["id"])
            self.datapoints.restore(state.get("datapoints", {}))
            self.raw.restore(state.get("raw", {}))
            self.instances.restore(state.get("instances", {}))
            self.runs.extend(state.get("runs", []))
