"""The backfill ledger: which work units are complete, kept next to the extraction state.

One record per completed unit, written once by the worker that completed it, so concurrent workers never
read-modify-write a shared document (no lost updates, no locks across hosts):

| `state.backend` | where                                                   | record                |
|-----------------|---------------------------------------------------------|-----------------------|
| `raw`           | CDF RAW `{state.raw_db}/{state.raw_table}_backfill`     | one row per unit id   |
| `redis`         | Redis hash `plex-cognite:backfill`                      | one field per unit id |
| `local`         | `{state.path stem}.backfill.json` beside the state file | one key (threads only)|

A record holds the unit, its counters, the completion time and the items deferred for a missing asset (so they
are never lost). The live extraction state (`{pcn}:{stream}` watermarks and windows) is never written here.
"""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from plex_cognite.core._files import atomic_write, read_json
from plex_cognite.core._iso import format_utc
from plex_cognite.distributed._model import WorkUnit
from plex_cognite.errors import StateError
from plex_cognite.typing import JSONValue

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

    from plex_cognite.config import ExtractorSettings

__all__ = ["Ledger", "LedgerEntry", "ledger_location", "open_ledger"]

#: A completed unit and how many of its items are deferred (waiting for an asset).
LedgerEntry = tuple[WorkUnit, int]


class Ledger(Protocol):
    """Where unit completions are recorded (one record per unit id)."""

    async def entries(self) -> list[LedgerEntry]:
        """Every completed unit."""
        ...

    async def is_done(self, unit: WorkUnit) -> bool:
        """Whether `unit` is recorded complete."""
        ...

    async def record(self, unit: WorkUnit, record: dict[str, JSONValue]) -> None:
        """Record `unit` as complete with `record` (counters, deferred items)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def completion_record(unit: WorkUnit, counters: dict[str, JSONValue], deferred: dict[str, JSONValue]) -> dict[str, Any]:
    """The stored JSON of a completed unit."""
    return {
        **unit.to_json(),
        **counters,
        "deferred_items": deferred,
        "completed_at": format_utc(datetime.now(UTC)),
    }


def _entry(data: object, where: str) -> LedgerEntry:
    if not isinstance(data, dict):
        raise StateError(f"backfill ledger record in {where} is not an object: {data!r}")
    try:
        unit = WorkUnit.from_json(data)
    except ValueError as error:
        raise StateError(
            f"backfill ledger record in {where} is corrupt ({error}); delete it to re-run the unit"
        ) from error
    deferred = data.get("deferred_items") or {}
    return unit, len(deferred) if isinstance(deferred, dict) else 0


def ledger_location(settings: ExtractorSettings) -> str:
    """Where the ledger of `settings` lives, for messages and docs."""
    state = settings.state
    if state.backend == "raw":
        return f"CDF RAW {state.raw_db}/{state.raw_table}_backfill"
    if state.backend == "redis":
        return f"Redis hash {_REDIS_KEY}"
    return str(_local_path(state.path))


def open_ledger(settings: ExtractorSettings, cdf: AsyncCogniteClient | None) -> Ledger:
    """The ledger beside the state store `settings.state` describes.

    Raises:
        StateError: The RAW backend without a CDF client.
    """
    state = settings.state
    if state.backend == "raw":
        if cdf is None:
            raise StateError("the RAW backfill ledger needs a CDF client")
        return RawLedger(cdf, state.raw_db, f"{state.raw_table}_backfill")
    if state.backend == "redis":
        assert state.redis_url is not None  # validated by StateSettings
        return RedisLedger(state.redis_url)
    return LocalLedger(_local_path(state.path))


# -- RAW -----------------------------------------------------------------------------------------------------------


class RawLedger:
    """One RAW row per completed unit (row key = unit id)."""

    def __init__(self, client: AsyncCogniteClient, database: str, table: str) -> None:
        self._client = client
        self.database = database
        self.table = table

    def _where(self) -> str:
        return f"RAW {self.database}/{self.table}"

    async def entries(self) -> list[LedgerEntry]:
        from cognite.client.exceptions import CogniteAPIError

        entries: list[LedgerEntry] = []
        try:
            # Serial chunks: `rows.list(limit=None)` first asks for parallel cursors, which costs more than it saves
            # on a table of a few thousand small rows.
            async for chunk in self._client.raw.rows(
                self.database, self.table, chunk_size=10_000, partitions=None, limit=None
            ):
                entries += [_entry(dict(row.columns or {}), self._where()) for row in chunk]
        except CogniteAPIError as error:
            if error.code == 404:
                return []
            raise StateError(f"could not read the backfill ledger {self._where()}: {error}") from error
        return entries

    async def is_done(self, unit: WorkUnit) -> bool:
        from cognite.client.exceptions import CogniteAPIError

        try:
            row = await self._client.raw.rows.retrieve(self.database, self.table, unit.id)
        except CogniteAPIError as error:
            if error.code == 404:
                return False
            raise StateError(f"could not read the backfill ledger {self._where()}: {error}") from error
        return row is not None

    async def record(self, unit: WorkUnit, record: dict[str, JSONValue]) -> None:
        from cognite.client.data_classes import RowWrite
        from cognite.client.exceptions import CogniteException

        try:
            await self._client.raw.rows.insert(
                self.database, self.table, [RowWrite(unit.id, record)], ensure_parent=True
            )
        except CogniteException as error:
            raise StateError(
                f"could not record unit {unit.id} in the backfill ledger {self._where()}: {error}"
            ) from error

    async def close(self) -> None:
        """The client belongs to the caller."""


# -- Redis ---------------------------------------------------------------------------------------------------------

_REDIS_KEY = "plex-cognite:backfill"


class RedisLedger:
    """One field per completed unit in one Redis hash (HSET is atomic per field)."""

    def __init__(self, url: str, key: str = _REDIS_KEY) -> None:
        import redis.asyncio as aioredis

        self._redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self.key = key

    async def entries(self) -> list[LedgerEntry]:
        import redis.exceptions

        try:
            fields = await self._redis.hgetall(self.key)
        except redis.exceptions.RedisError as error:
            raise StateError(f"could not read the backfill ledger (Redis {self.key}): {error}") from error
        return [_entry(json.loads(value), f"Redis {self.key}") for value in fields.values()]

    async def is_done(self, unit: WorkUnit) -> bool:
        import redis.exceptions

        try:
            return bool(await self._redis.hexists(self.key, unit.id))
        except redis.exceptions.RedisError as error:
            raise StateError(f"could not read the backfill ledger (Redis {self.key}): {error}") from error

    async def record(self, unit: WorkUnit, record: dict[str, JSONValue]) -> None:
        import redis.exceptions

        try:
            await self._redis.hset(self.key, unit.id, json.dumps(record, separators=(",", ":")))
        except redis.exceptions.RedisError as error:
            raise StateError(f"could not record unit {unit.id} in the backfill ledger (Redis): {error}") from error

    async def close(self) -> None:
        await self._redis.aclose()


# -- local file (in-process and thread executors only) ------------------------------------------------------------

_FILE_LOCKS: dict[Path, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _local_path(state_path: Path) -> Path:
    return state_path.with_name(f"{state_path.stem}.backfill.json")


def _file_lock(path: Path) -> threading.Lock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path.resolve(), threading.Lock())


class LocalLedger:
    """A JSON file of unit id -> record, re-read and replaced atomically under a process-wide lock per file.

    Safe for threads of one process only; `run_backfill` refuses the local backend for other executors.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = _file_lock(path)

    def _read(self) -> dict[str, Any]:
        doc = read_json(
            self.path,
            what="backfill ledger",
            remedy="restore it or delete it (then every unit runs again: writes are idempotent)",
        )
        if doc is None:
            return {}
        if not isinstance(doc, dict):
            raise StateError(f"backfill ledger {self.path} is not a JSON object; delete it to start over")
        return doc

    def _entries(self) -> list[LedgerEntry]:
        with self._lock:
            doc = self._read()
        return [_entry(value, str(self.path)) for value in doc.values()]

    def _record(self, unit: WorkUnit, record: dict[str, JSONValue]) -> None:
        with self._lock:
            doc = self._read()
            doc[unit.id] = record
            try:
                atomic_write(self.path, [json.dumps(doc, separators=(",", ":"), sort_keys=True)])
            except OSError as error:
                raise StateError(f"could not write the backfill ledger {self.path}: {error}") from error

    async def entries(self) -> list[LedgerEntry]:
        return await asyncio.to_thread(self._entries)

    async def is_done(self, unit: WorkUnit) -> bool:
        return any(done.id == unit.id for done, _ in await self.entries())

    async def record(self, unit: WorkUnit, record: dict[str, JSONValue]) -> None:
        await asyncio.to_thread(self._record, unit, record)

    async def close(self) -> None:
        """Nothing to release."""
