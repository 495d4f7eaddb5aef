"""RAW in FakeCDF: databases, tables and rows, with key-ordered cursors and `/cursors` partitions."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from plex_cognite.testing._cdf_errors import CDFError, bad_request
from plex_cognite.testing._cdf_table import Record, as_object, body_items, decode_cursor, encode_cursor

MAX_ROWS_PER_INSERT = 10_000
MAX_ROWS_PER_PAGE = 10_000
MAX_KEYS_PER_DELETE = 1_000
MAX_KEY_LENGTH = 1024


@dataclass
class RawTable:
    """Rows of one RAW table: key -> (columns, lastUpdatedTime)."""

    created_time: int
    rows: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    _keys: list[str] | None = None

    def keys(self) -> list[str]:
        """Row keys in sorted order (cached until the key set changes)."""
        if self._keys is None:
            self._keys = sorted(self.rows)
        return self._keys

    def invalidate(self) -> None:
        """Forget the cached key order."""
        self._keys = None


class RawStore:
    """All RAW databases."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self.dbs: dict[str, dict[str, RawTable]] = {}
        self.db_created: dict[str, int] = {}

    def clear(self) -> None:
        """Delete every database."""
        self.dbs.clear()
        self.db_created.clear()

    # -- databases and tables --------------------------------------------------------------------------------------

    def list_dbs(self, limit: int, cursor: str | None) -> tuple[list[Record], str | None]:
        """`GET /raw/dbs`."""
        names = sorted(self.dbs)
        return _page_names(names, limit, cursor, lambda name: {"name": name, "createdTime": self.db_created[name]})

    def create_dbs(self, body: object) -> list[Record]:
        """`POST /raw/dbs` (400 when one already exists)."""
        names = _names(body_items(body), 32)
        existing = [name for name in names if name in self.dbs]
        if existing or len(set(names)) != len(names):
            raise CDFError(
                400, f"Databases already created: {existing or names}", duplicated=[{"name": n} for n in existing]
            )
        for name in names:
            self._ensure_db(name)
        return [{"name": name, "createdTime": self.db_created[name]} for name in names]

    def delete_dbs(self, body: object) -> None:
        """`POST /raw/dbs/delete` (a non-empty database needs `recursive`)."""
        names = _names(body_items(body), 32)
        recursive = bool(as_object(body).get("recursive", False))
        self._require_dbs(names)
        for name in names:
            if self.dbs[name] and not recursive:
                raise bad_request(f"Database {name!r} is not empty; set recursive=true to delete its tables too")
        for name in names:
            del self.dbs[name]
            del self.db_created[name]

    def list_tables(self, db: str, limit: int, cursor: str | None) -> tuple[list[Record], str | None]:
        """`GET /raw/dbs/{db}/tables`."""
        self._require_dbs([db])
        tables = self.dbs[db]
        return _page_names(sorted(tables), limit, cursor, lambda n: {"name": n, "createdTime": tables[n].created_time})

    def create_tables(self, db: str, body: object, *, ensure_parent: bool) -> list[Record]:
        """`POST /raw/dbs/{db}/tables`."""
        names = _names(body_items(body), 64)
        if not ensure_parent:
            self._require_dbs([db])
        existing = [name for name in names if name in self.dbs.get(db, {})]
        if existing or len(set(names)) != len(names):
            raise CDFError(
                400, f"Tables already created: {existing or names}", duplicated=[{"name": n} for n in existing]
            )
        tables = self._ensure_db(db)
        now = self._now_ms()
        for name in names:
            tables[name] = RawTable(now)
        return [{"name": name, "createdTime": now} for name in names]

    def delete_tables(self, db: str, body: object) -> None:
        """`POST /raw/dbs/{db}/tables/delete`."""
        names = _names(body_items(body), 64)
        self._require_dbs([db])
        unknown = [name for name in names if name not in self.dbs[db]]
        if unknown:
            raise CDFError(404, "Tables not found", missing=[{"name": name} for name in unknown])
        for name in names:
            del self.dbs[db][name]

    # -- rows ------------------------------------------------------------------------------------------------------

    def insert_rows(self, db: str, table: str, body: object, *, ensure_parent: bool) -> int:
        """`POST .../rows`: insert or overwrite rows; returns the row count."""
        items = body_items(body, limit=MAX_ROWS_PER_INSERT)
        rows: list[tuple[str, dict[str, Any]]] = []
        for item in items:
            key, columns = item.get("key"), item.get("columns")
            if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
                raise bad_request(f"Row key must be a non-empty string of at most {MAX_KEY_LENGTH} characters")
            if not isinstance(columns, dict):
                raise bad_request(f"Row {key!r}: columns must be an object")
            rows.append((key, columns))
        target = self._table(db, table, create=ensure_parent)
        now = self._now_ms()
        new_keys = False
        for key, columns in rows:
            new_keys = new_keys or key not in target.rows
            target.rows[key] = (columns, now)
        if new_keys:
            target.invalidate()
        return len(rows)

    def list_rows(self, db: str, table: str, query: Mapping[str, str | None]) -> tuple[list[Record], str | None]:
        """`GET .../rows?limit&cursor&columns&minLastUpdatedTime&maxLastUpdatedTime`."""
        target = self._table(db, table, create=False)
        limit = _int_param(query.get("limit"), 25, "limit")
        if not 1 <= limit <= MAX_ROWS_PER_PAGE:
            raise bad_request(f"limit must be between 1 and {MAX_ROWS_PER_PAGE}")
        low = _int_param(query.get("minLastUpdatedTime"), None, "minLastUpdatedTime")
        high = _int_param(query.get("maxLastUpdatedTime"), None, "maxLastUpdatedTime")
        columns_param = query.get("columns")
        # The SDK sends `columns=` (empty) for all columns and `columns=,` for keys only.
        wanted = None if not columns_param else {c for c in columns_param.split(",") if c}
        cursor = query.get("cursor")
        state = decode_cursor(cursor) if cursor else {}
        after, end = state.get("after"), state.get("end")
        keys = target.keys()
        position = bisect.bisect_right(keys, after) if after is not None else 0
        out: list[Record] = []
        while position < len(keys) and len(out) < limit:
            key = keys[position]
            if end is not None and key >= end:
                break
            position += 1
            columns, updated = target.rows[key]
            if (low is not None and updated <= low) or (high is not None and updated > high):
                continue
            shown = columns if wanted is None else {c: v for c, v in columns.items() if c in wanted}
            out.append({"key": key, "columns": shown, "lastUpdatedTime": updated})
        more = position < len(keys) and (end is None or keys[position] < end)
        return out, encode_cursor({"after": keys[position - 1], "end": end}) if more else None

    def get_row(self, db: str, table: str, key: str) -> Record:
        """`GET .../rows/{key}` (404 when absent)."""
        target = self._table(db, table, create=False)
        if key not in target.rows:
            raise CDFError(404, f"Row {key!r} not found", missing=[{"key": key}])
        columns, updated = target.rows[key]
        return {"key": key, "columns": columns, "lastUpdatedTime": updated}

    def delete_rows(self, db: str, table: str, body: object) -> None:
        """`POST .../rows/delete` (unknown keys are ignored)."""
        items = body_items(body, limit=MAX_KEYS_PER_DELETE)
        keys = [item.get("key") for item in items]
        if not all(isinstance(key, str) for key in keys):
            raise bad_request("Each item must have a string key")
        target = self._table(db, table, create=False)
        for key in keys:
            target.rows.pop(key, None)  # type: ignore[arg-type]
        target.invalidate()

    def cursors(self, db: str, table: str, count: int) -> list[str]:
        """`GET .../cursors?numberOfCursors=N`: cursors splitting the key range into N parts."""
        keys = self._table(db, table, create=False).keys()
        count = max(1, min(count, 10_000))
        out: list[str] = []
        for index in range(count):
            start, stop = len(keys) * index // count, len(keys) * (index + 1) // count
            if index > 0 and start == stop:
                continue
            after = keys[start - 1] if start > 0 else None
            end = keys[stop] if stop < len(keys) else None
            out.append(encode_cursor({"after": after, "end": end}))
        return out

    # -- persistence -----------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """All databases as JSON-serialisable data."""
        return {
            db: {
                "createdTime": self.db_created[db],
                "tables": {
                    name: {"createdTime": t.created_time, "rows": {k: [c, u] for k, (c, u) in t.rows.items()}}
                    for name, t in tables.items()
                },
            }
            for db, tables in self.dbs.items()
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Load a `snapshot()`."""
        for db, content in state.items():
            self.db_created[db] = content["createdTime"]
            self.dbs[db] = {
                name: RawTable(t["createdTime"], {k: (c, u) for k, (c, u) in t["rows"].items()})
                for name, t in content["tables"].items()
            }

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _ensure_db(self, db: str) -> dict[str, RawTable]:
        if db not in self.dbs:
            self.dbs[db] = {}
            self.db_created[db] = self._now_ms()
        return self.dbs[db]

    def _require_dbs(self, names: list[str]) -> None:
        unknown = [name for name in names if name not in self.dbs]
        if unknown:
            raise CDFError(404, "Databases not found", missing=[{"name": name} for name in unknown])

    def _table(self, db: str, table: str, *, create: bool) -> RawTable:
        if create:
            tables = self._ensure_db(db)
            if table not in tables:
                tables[table] = RawTable(self._now_ms())
            return tables[table]
        self._require_dbs([db])
        if table not in self.dbs[db]:
            raise CDFError(404, f"Table {db}.{table} not found", missing=[{"name": table}])
        return self.dbs[db][table]


def _names(items: list[dict[str, Any]], max_length: int) -> list[str]:
    names = [item.get("name") for item in items]
    for name in names:
        if not isinstance(name, str) or not 1 <= len(name) <= max_length:
            raise bad_request(f"RAW names must be strings of 1..{max_length} characters, got {name!r}")
    return names  # type: ignore[return-value]


def _int_param(text: str | None, default: int | None, name: str) -> Any:
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"Query parameter {name} must be an integer, got {text!r}") from None


def _page_names(
    names: list[str], limit: int, cursor: str | None, render: Callable[[str], Record]
) -> tuple[list[Record], str | None]:
    after = decode_cursor(cursor).get("after") if cursor else None
    start = bisect.bisect_right(names, after) if after is not None else 0
    page = names[start : start + limit]
    more = start + limit < len(names)
    return [render(name) for name in page], encode_cursor({"after": page[-1]}) if more else None
