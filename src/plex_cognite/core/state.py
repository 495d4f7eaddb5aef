"""Extraction state per (PCN, stream), and the stores that keep it.

A `StreamState` holds:

- `watermark`: the end of the contiguous history already extracted (informational for windowed streams);
- `windows`: the completed half-open windows (an `IntervalSet`), so any gap left by a crash is re-read;
- content hashes: an 8-byte digest per external id of what was last written (change detection for snapshot
  streams: a re-run over unchanged data writes nothing);
- `deferred`: items held back because an asset they link to does not exist yet, retried on the next run;
- `extra`: what an extractor keeps beyond that (JSON values under keys it chooses; for example the last on-hand
  sums of the `inventory` stream), committed with the rest.

The extractor commits state only for what the sink acknowledged (`AsyncBatchProcessor.on_commit`). Stores:

| store               | where                                  | writes per commit                               |
|---------------------|----------------------------------------|-------------------------------------------------|
| `LocalStateStore`   | one local file: an append-only log     | one line: meta + the hashes that changed        |
| `RawStateStore`     | a CDF RAW table                        | the stream's row + the hash buckets that changed |
| `RedisStateStore`   | Redis (extra `redis`)                  | one key + `HSET`/`HDEL` of changed hashes       |
| `MemoryStateStore`  | this process (tests, notebooks)        | none                                            |

A state that cannot be read raises `StateError` with the path and the fix: state is never silently reset, because a
reset means re-extracting (and re-writing) everything.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import itertools
import json
import os
import weakref
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from plex_cognite.core._digests import DigestTable
from plex_cognite.core._files import atomic_write
from plex_cognite.core._iso import format_utc, parse_utc
from plex_cognite.core.windows import IntervalSet
from plex_cognite.errors import StateError
from plex_cognite.typing import JSONValue, Pcn

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

__all__ = [
    "LocalStateStore",
    "MemoryStateStore",
    "RawStateStore",
    "RedisStateStore",
    "StreamState",
]

_FORMAT_VERSION = 1


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _unb64(text: str | bytes) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass(eq=False)
class StreamState:
    """The state of one (PCN, stream).

    Hash changes are tracked (`dirty_hashes`) so stores can write only what changed since the last commit.

    Attributes:
        watermark: End of the extracted history (aware UTC), or None.
        windows: Completed half-open windows.
        deferred: Items held back for a missing asset, keyed by external id, as JSON.
        extra: An extractor's own state, JSON values under keys it chooses (update it only for what was
            acknowledged: it is committed with the rest).
    """

    watermark: datetime | None = None
    windows: IntervalSet = field(default_factory=IntervalSet)
    deferred: dict[str, JSONValue] = field(default_factory=dict)
    extra: dict[str, JSONValue] = field(default_factory=dict)
    _hashes: DigestTable = field(default_factory=DigestTable, repr=False)
    # The table knows which ids were given a digest since `mark_clean()`; the ids whose digest went are kept here.
    _dropped: set[str] = field(default_factory=set, repr=False)

    # -- content hashes --------------------------------------------------------------------------------------------

    def hash_of(self, external_id: str) -> bytes | None:
        """The digest last committed for `external_id`, or None."""
        return self._hashes.get(external_id)

    def is_unchanged(self, external_id: str, digest: bytes) -> bool:
        """True when `digest` equals what was last written for `external_id`."""
        return self._hashes.matches(external_id, digest)

    def set_hash(self, external_id: str, digest: bytes) -> None:
        """Record that the item with this digest was written (call only after acknowledgement)."""
        if self._hashes.set(external_id, digest) and self._dropped:
            self._dropped.discard(external_id)

    def forget_hash(self, external_id: str) -> None:
        """Drop the digest of `external_id` (the next run writes it again)."""
        if self._hashes.pop(external_id):
            self._dropped.add(external_id)

    @property
    def hash_count(self) -> int:
        """How many external ids have a digest."""
        return len(self._hashes)

    def hashes(self) -> Iterator[tuple[str, bytes]]:
        """Iterate over `(external_id, digest)` pairs, in the order they were first set."""
        return self._hashes.items()

    @property
    def dirty_hashes(self) -> frozenset[str]:
        """External ids whose digest changed (or was dropped) since the last `mark_clean()`."""
        return frozenset(itertools.chain((xid for xid, _ in self._hashes.changed()), self._dropped))

    def hash_changes(self) -> tuple[Iterator[tuple[str, bytes]], list[str]]:
        """What changed since the last `mark_clean()`: `(external_id, digest)` of each digest set, and the ids dropped.

        The changed ids are read off the digest table (stores write only these). Consume the pairs before changing
        the state.
        """
        return self._hashes.changed(), list(self._dropped)

    def mark_clean(self) -> None:
        """Forget which hashes changed (stores call this after a successful commit)."""
        self._hashes.mark_clean()
        self._dropped.clear()

    # -- serialisation ---------------------------------------------------------------------------------------------

    def meta_json(self) -> dict[str, JSONValue]:
        """Everything except the hashes, as JSON.

        Every field is always present (`extra` too, possibly empty), so a store that writes only the fields that
        changed also records a field that was emptied.
        """
        return {
            "watermark": None if self.watermark is None else format_utc(self.watermark),
            "windows": self.windows.to_json(),  # type: ignore[dict-item]
            "deferred": dict(self.deferred),
            "extra": dict(self.extra),
        }

    def to_json(self) -> dict[str, JSONValue]:
        """The whole state as JSON; digests are base64 (12 characters for 8 bytes)."""
        doc = self.meta_json()
        doc["hashes"] = {xid: _b64(digest) for xid, digest in self._hashes.items()}
        return doc

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, hashes: Mapping[str, str] | None = None) -> StreamState:
        """Build a state from `to_json()` output (or `meta_json()` plus separately stored hashes).

        Raises:
            ValueError: When a field has the wrong shape.
        """
        watermark_text = data.get("watermark")
        if watermark_text is not None and not isinstance(watermark_text, str):
            raise ValueError(f"watermark must be an ISO 8601 string, got {watermark_text!r}")
        deferred = data.get("deferred") or {}
        if not isinstance(deferred, dict):
            raise ValueError("deferred must be an object")
        extra = data.get("extra") or {}
        if not isinstance(extra, dict):
            raise ValueError("extra must be an object")
        raw_hashes = hashes if hashes is not None else (data.get("hashes") or {})
        if not isinstance(raw_hashes, Mapping):
            raise ValueError("hashes must be an object of external id -> base64 digest")
        state = cls(
            watermark=None if watermark_text is None else parse_utc(watermark_text),
            windows=IntervalSet.from_json(data.get("windows") or []),
            deferred=dict(deferred),
            extra=dict(extra),
        )
        try:
            state._hashes = DigestTable.from_distinct((str(xid), _unb64(text)) for xid, text in raw_hashes.items())
        except (binascii.Error, AttributeError, TypeError) as error:
            raise ValueError(f"a content hash is not valid base64: {error}") from error
        return state

    def copy(self) -> StreamState:
        """An independent copy (hashes included, clean)."""
        clone = StreamState(self.watermark, self.windows.copy(), dict(self.deferred), deepcopy(self.extra))
        clone._hashes = self._hashes.copy()
        clone._hashes.mark_clean()
        return clone


def _key(pcn: Pcn, stream: str) -> str:
    return f"{pcn}:{stream}"


class MemoryStateStore:
    """Keeps state in this process only (tests, notebooks, dry runs)."""

    def __init__(self) -> None:
        self._states: dict[str, StreamState] = {}

    async def load(self, pcn: Pcn, stream: str) -> StreamState:
        """Return a copy of the stored state, or an empty one."""
        stored = self._states.get(_key(pcn, stream))
        return stored.copy() if stored is not None else StreamState()

    async def commit(self, pcn: Pcn, stream: str, state: StreamState) -> None:
        """Keep a copy of `state`."""
        self._states[_key(pcn, stream)] = state.copy()
        state.mark_clean()

    async def close(self) -> None:
        """Nothing to release."""


_LOG_HEADER = {"format": "plex-cognite-state", "version": 2}
#: The log is compacted (rewritten as one full record per stream) once it is this many times the size of what it
#: holds: its size at the last compaction, or the digests of the streams committed since, whichever is more.
_COMPACT_RATIO = 4
#: Bytes a digest takes in a compacted log, at least (`"<external id>":"<12 base64 characters>",`): the size of the
#: committed streams' digests is estimated from their count with it (an underestimate compacts sooner, never later).
_LOG_BYTES_PER_DIGEST = 32
#: ... and at least this large, so small state files are never rewritten.
_COMPACT_MIN_BYTES = 4 * 1024 * 1024
_REMEDY = "plex-cognite never resets state silently: restore it from a backup, or delete it to re-extract everything"


#: Digests per line when the log is compacted: a big stream's hashes span several lines, so neither writing nor
#: replaying the log ever holds more than this many of them as JSON objects.
_HASHES_PER_LINE = 8192
_B64_DIGEST = 12  # base64 characters of an 8-byte digest


@dataclass(slots=True)
class _Entry:
    """One stream's state as the file holds it: meta JSON and base64 digests (decoded only for the loaded stream).

    The digests' base64 text is kept in a `DigestTable` (a replay of every stream holds them all); a value that is
    not a base64 string is kept aside as it is, so loading that stream reports it and compaction carries it over.
    """

    meta: dict[str, Any]
    hashes: DigestTable = field(default_factory=lambda: DigestTable(width=_B64_DIGEST))
    invalid: dict[str, Any] = field(default_factory=dict)

    def update(self, hashes: Any) -> None:
        """Apply a record's `set` object (external id -> base64 digest)."""
        for xid, text in hashes.items():
            if isinstance(text, str) and text.isascii():
                self.hashes.set(xid, text.encode("ascii"))
                if self.invalid:
                    self.invalid.pop(xid, None)
            else:
                self.hashes.pop(xid)
                self.invalid[xid] = text

    def drop(self, xids: Any) -> None:
        """Apply a record's `drop` list."""
        for xid in xids:
            self.hashes.pop(xid)
            self.invalid.pop(xid, None)

    def digests(self) -> DigestTable:
        """The decoded digests.

        Raises:
            ValueError: When a digest is not valid base64.
        """
        if self.invalid:
            xid, text = next(iter(self.invalid.items()))
            raise ValueError(f"the content hash of {xid!r} is not a base64 string: {text!r}")
        try:
            return DigestTable.from_distinct((xid, _unb64(text)) for xid, text in self.hashes.items())
        except binascii.Error as error:
            raise ValueError(f"a content hash is not valid base64: {error}") from error

    def lines(self, key: str) -> Iterator[bytes]:
        """The compacted log lines of this stream: a whole record, then the rest of its digests in chunks."""
        texts = ((xid, text.decode("ascii")) for xid, text in self.hashes.items())
        return _lines(key, self.meta, itertools.chain(self.invalid.items(), texts), whole=True)


def _lines(
    key: str, meta: dict[str, Any], hashes: Iterable[tuple[str, Any]], *, whole: bool, drop: Sequence[str] = ()
) -> Iterator[bytes]:
    """One stream's log lines: the first carries `whole`, `meta` and `drop`; `hashes` follow, a chunk a line.

    No line holds more than `_HASHES_PER_LINE` digests, so neither writing nor replaying the log ever builds one JSON
    object per external id of a big stream.
    """
    record: dict[str, Any] = {"key": key, "whole": whole, "meta": meta, "set": {}}
    if drop:
        record["drop"] = list(drop)
    chunk: dict[str, Any] = record["set"]
    first = True
    for xid, text in hashes:
        chunk[xid] = text
        if len(chunk) >= _HASHES_PER_LINE:
            yield orjson.dumps(record) + b"\n"
            record = {"key": key, "whole": False, "meta": {}, "set": {}}
            chunk, first = record["set"], False
    if chunk or first:  # a commit always writes at least its first line
        yield orjson.dumps(record) + b"\n"


class LocalStateStore:
    """State in one local file: an append-only log of what each commit changed, compacted now and then.

    A commit appends one JSON line for the committed stream: its windows, watermark and deferred items, and only the
    content hashes that changed since the previous commit of the same state object (a state the store did not load
    or commit before is written whole). The line is fsynced before `commit` returns. A crash mid-append leaves a torn
    last line, which was never acknowledged: it is dropped on the next load. Once the log is `_COMPACT_RATIO` times
    what it holds (its size at the last compaction, or the digests of the streams loaded or committed since,
    whichever is more) and at least 4 MiB, it is rewritten atomically (temp file + fsync + rename) as one full record
    per stream, a stream at a time. So a first run, which only adds digests, is not compacted part-way. The store
    caches no file text between commits: loading a stream replays the file's lines of that stream (the others are
    skipped by their key, unparsed).

    A state file written by an earlier version (one JSON document) is read as is and rewritten in the log format on
    the first commit.

    Args:
        path: The state file (created on the first commit; parent directories too).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()
        self._size = -1  # bytes of the log as last seen; -1: not read yet
        self._compact_size = 0  # bytes right after the last compaction (or of the file as first read)
        self._needs_rewrite = False  # an earlier format, or a torn tail: rewrite before appending
        # The state object last loaded/committed per stream (weakly: a finished stream's digests, megabytes on a big
        # plant, are freed when its extractor drops them; a commit of another object writes the whole entry).
        self._committed: dict[str, weakref.ref[StreamState]] = {}
        self._digests: dict[str, int] = {}  # digests per stream as last loaded/committed (what the log holds of it)
        self._written: dict[str, dict[str, bytes]] = {}  # digests of the meta fields last written per stream

    # -- reading ---------------------------------------------------------------------------------------------------

    def _replay(self, only: str | None, seen: set[str] | None = None) -> dict[str, _Entry]:
        """Every stream's entry (or just `only`'s), replaying the log line by line; notes torn tails and old formats.

        A line of another stream than `only` is skipped unparsed (its key is read off its start). `seen`, when
        given, collects the key of every stream the file holds.
        """
        try:
            with self.path.open("rb") as handle:
                return self._replay_lines(handle, only, seen)
        except FileNotFoundError:
            self._size = self._compact_size = 0
            return {}
        except OSError as error:
            raise StateError(f"state file {self.path} is unreadable or corrupt ({error}); {_REMEDY}") from error

    def _replay_lines(self, handle: BinaryIO, only: str | None, seen: set[str] | None) -> dict[str, _Entry]:
        first = handle.readline()
        try:
            head = orjson.loads(first) if first.strip() else None
        except orjson.JSONDecodeError:
            head = None
        if head != _LOG_HEADER:
            data = first + handle.read()
            earlier = self._read_document(data, only, seen)
            self._needs_rewrite = True
            self._size = self._compact_size = len(data)
            return earlier
        entries: dict[str, _Entry] = {}
        good = len(first) if first.endswith(b"\n") else 0  # a torn header: the log is rewritten
        self._needs_rewrite = self._needs_rewrite or not good
        for line in handle:
            if not line.endswith(b"\n"):  # a torn last line (no newline): never acknowledged
                self._needs_rewrite = True
                break
            try:
                key = _line_key(line)
                if seen is not None:
                    seen.add(key)
                if only is None or key == only:
                    _apply(entries, key, orjson.loads(line))
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
                raise StateError(
                    f"state file {self.path} is unreadable or corrupt (bad record at byte {good}: {error}); {_REMEDY}"
                ) from error
            good += len(line)
        if self._size < 0:
            self._compact_size = good
        self._size = good
        return entries

    def _read_document(self, data: bytes, only: str | None, seen: set[str] | None) -> dict[str, _Entry]:
        """A state file in the earlier one-document format."""
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StateError(f"state file {self.path} is unreadable or corrupt ({error}); {_REMEDY}") from error
        if not (isinstance(doc, dict) and isinstance(doc.get("streams"), dict)):
            raise StateError(
                f"state file {self.path} is not a plex-cognite state file (no 'streams' object); "
                "point state.path elsewhere or delete it to re-extract everything"
            )
        if doc.get("version") != _FORMAT_VERSION:
            raise StateError(f"state file {self.path} has format version {doc.get('version')!r}; expected 1")
        entries: dict[str, _Entry] = {}
        if seen is not None:
            seen.update(map(str, doc["streams"]))
        for key, value in doc["streams"].items():
            if only is None or key == only:
                meta = dict(value) if isinstance(value, dict) else {}
                hashes = meta.pop("hashes", None) or {}
                if not isinstance(hashes, dict):
                    raise StateError(
                        f"state file {self.path}: the entry for {key} is corrupt (hashes must be an object of "
                        "external id -> base64 digest); restore the file or delete that entry to re-extract the stream"
                    )
                entries[str(key)] = entry = _Entry(meta)
                entry.update(hashes)
        return entries

    async def load(self, pcn: Pcn, stream: str) -> StreamState:
        """Return the stored state of (pcn, stream), or an empty one.

        Raises:
            StateError: When the file is corrupt.
        """
        key = _key(pcn, stream)
        async with self._lock:
            entry = (await asyncio.to_thread(self._replay, key)).get(key)
            if entry is None:
                state = StreamState()
            else:
                try:
                    state = StreamState.from_json(entry.meta, hashes={})
                    state._hashes = entry.digests()
                except (ValueError, TypeError, AttributeError) as error:
                    raise StateError(
                        f"state file {self.path}: the entry for PCN {pcn}, stream {stream} is corrupt ({error}); "
                        "restore the file or delete that entry to re-extract the stream"
                    ) from error
            self._committed[key] = weakref.ref(state)
            self._written[key] = _meta_digests(state.meta_json())
            self._digests[key] = state.hash_count
            return state

    # -- writing ---------------------------------------------------------------------------------------------------

    async def commit(self, pcn: Pcn, stream: str, state: StreamState) -> None:
        """Append what changed in `state` for (pcn, stream), durably; compact the log when it has grown.

        Raises:
            StateError: When the file cannot be written.
        """
        key = _key(pcn, stream)
        async with self._lock:
            known = self._committed.get(key)
            whole = known is None or known() is not state
            lines, written = _commit_lines(key, state, written=None if whole else self._written.get(key))
            digests = {**self._digests, key: state.hash_count}
            live = sum(digests.values()) * _LOG_BYTES_PER_DIGEST
            try:
                await asyncio.to_thread(self._write, lines, live)
            except OSError as error:
                raise StateError(f"could not write state file {self.path}: {error}") from error
            state.mark_clean()
            self._committed[key] = weakref.ref(state)
            self._written[key] = written
            self._digests = digests

    def _write(self, lines: list[bytes], live: int) -> None:
        """Append `lines`, or compact the log with them applied when it has grown well past what it holds.

        `live` estimates what the log holds (at least) from the digests of the streams loaded or committed: a first
        run, whose log only grows with new digests, is then not compacted part-way for nothing (on the 100k-jobs
        plant that compaction was a second of CPU and the run's peak of memory).
        """
        if self._size < 0:
            self._replay(None)
        size = sum(map(len, lines))
        if (
            self._needs_rewrite
            or self._size == 0
            or self._size + size > max(_COMPACT_MIN_BYTES, _COMPACT_RATIO * max(self._compact_size, live))
        ):
            self._compact(lines)
            return
        with self.path.open("ab") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        self._size += size

    def _compact(self, lines: list[bytes]) -> None:
        """Rewrite the file as the header plus each stream's lines (with `lines` applied), atomically.

        A stream at a time: the log is replayed once per stream, for that stream only (other streams' lines are
        skipped unparsed), so a compaction holds the digests of one stream, not those of every stream of every PCN
        in the file at once.
        """
        keys: set[str] = set()
        self._replay(_NO_STREAM, seen=keys)
        line_keys = [_line_key(line) for line in lines]
        keys.update(line_keys)

        def pieces() -> Iterator[bytes]:
            yield orjson.dumps(_LOG_HEADER) + b"\n"
            for key in sorted(keys):
                entries = self._replay(key)
                for line, line_key in zip(lines, line_keys, strict=True):
                    if line_key == key:
                        _apply(entries, key, orjson.loads(line))
                entry = entries.pop(key, None)
                if entry is not None:
                    yield from entry.lines(key)

        atomic_write(self.path, pieces())
        self._size = self._compact_size = self.path.stat().st_size
        self._needs_rewrite = False

    async def close(self) -> None:
        """Nothing to release (every commit is already on disk)."""


def _meta_digests(meta: Mapping[str, Any]) -> dict[str, bytes]:
    return {name: hashlib.blake2b(orjson.dumps(value), digest_size=8).digest() for name, value in meta.items()}


def _commit_lines(
    key: str, state: StreamState, *, written: dict[str, bytes] | None
) -> tuple[list[bytes], dict[str, bytes]]:
    """The log lines of one commit, and the digests of its meta fields.

    `written is None`: the whole state (a first line that replaces the stream's entry, with every meta field, then
    every hash). Otherwise only the hashes that changed (`set` / `drop`) and the meta fields whose digest differs
    from `written` (the deferred items, say, are not repeated on every commit). A commit of many hashes spans
    several lines, encoded a chunk at a time. A crash that tears it leaves its complete lines in place: they hold
    digests of acknowledged writes only, so the next run writes at most some unchanged items again.
    """
    meta = state.meta_json()
    digests = _meta_digests(meta)
    if written is None:
        every = ((xid, _b64(digest)) for xid, digest in state.hashes())
        return list(_lines(key, meta, every, whole=True)), digests
    changed_meta = {name: value for name, value in meta.items() if written.get(name) != digests[name]}
    changed, dropped = state.hash_changes()
    texts = ((xid, _b64(digest)) for xid, digest in changed)
    return list(_lines(key, changed_meta, texts, whole=False, drop=dropped)), digests


#: The key of no stream: a replay for it applies nothing (it only collects the keys, see `_replay`).
_NO_STREAM = ""
_KEY_START = b'{"key":"'


def _line_key(line: bytes) -> str:
    """The stream key of a log line, read off its start (every line is written `{"key":"...",...`) when it can be.

    A key with an escape in it, or a line that starts differently, is parsed whole.

    Raises:
        orjson.JSONDecodeError | KeyError | TypeError: The line is not a log record.
    """
    if line.startswith(_KEY_START):
        end = line.find(b'"', len(_KEY_START))
        key = line[len(_KEY_START) : end]
        if end > 0 and b"\\" not in key:
            return key.decode("utf-8")
    record = orjson.loads(line)
    if not isinstance(record, dict):
        raise TypeError(f"a log record is a JSON object, not {type(record).__name__}")
    return str(record["key"])


def _apply(entries: dict[str, _Entry], key: str, record: dict[str, Any]) -> None:
    entry = entries.get(key)
    if record.get("whole") or entry is None:
        entry = entries[key] = _Entry(dict(record["meta"]))
    else:
        entry.meta.update(record["meta"])
    entry.update(record.get("set") or {})
    entry.drop(record.get("drop") or ())


_BUCKETS = 256


def _bucket(external_id: str) -> int:
    return zlib.crc32(external_id.encode("utf-8")) % _BUCKETS


class RawStateStore:
    """State in a CDF RAW table, shared by every worker that can reach the project.

    Rows: `{pcn}:{stream}` holds the watermark, windows and deferred items; `{pcn}:{stream}:h{nn}` hold the
    content hashes in 256 buckets by a CRC of the external id, so a commit rewrites only the buckets that changed
    and no row grows past a few tens of kilobytes at 100k items.

    Args:
        client: An `AsyncCogniteClient`.
        database: RAW database (created on first write).
        table: RAW table (created on first write).
    """

    def __init__(self, client: AsyncCogniteClient, database: str = "plex_cognite", table: str = "state") -> None:
        self._client = client
        self.database = database
        self.table = table
        self._lock = asyncio.Lock()

    async def _rows(self, prefix: str) -> dict[str, dict[str, Any]]:
        from cognite.client.exceptions import CogniteAPIError

        found: dict[str, dict[str, Any]] = {}
        try:
            # Serial chunks: `rows.list(limit=None)` first asks for parallel cursors, ~0.5 s even for a tiny table.
            async for chunk in self._client.raw.rows(self.database, self.table, chunk_size=10_000, partitions=None):
                for row in chunk:
                    if row.key and row.key.startswith(prefix):
                        found[row.key] = dict(row.columns or {})
        except CogniteAPIError as error:
            if error.code == 404:
                return {}
            raise StateError(f"could not read state from RAW {self.database}/{self.table}: {error}") from error
        return found

    async def load(self, pcn: Pcn, stream: str) -> StreamState:
        """Read the stream's rows from RAW.

        Raises:
            StateError: When the rows cannot be read or are corrupt.
        """
        key = _key(pcn, stream)
        rows = await self._rows(key)
        meta = rows.get(key)
        if meta is None:
            return StreamState()
        hashes: dict[str, str] = {}
        for row_key, columns in rows.items():
            if row_key.startswith(key + ":h"):
                bucket = columns.get("hashes") or {}
                if isinstance(bucket, dict):
                    hashes.update(bucket)
        try:
            return StreamState.from_json(meta, hashes=hashes)
        except (ValueError, TypeError) as error:
            raise StateError(f"RAW state row {key} in {self.database}/{self.table} is corrupt ({error})") from error

    async def commit(self, pcn: Pcn, stream: str, state: StreamState) -> None:
        """Write the stream's row and the hash buckets that changed.

        Raises:
            StateError: When RAW refuses the write (after the SDK's own retries).
        """
        from cognite.client.data_classes import RowWrite
        from cognite.client.exceptions import CogniteException

        key = _key(pcn, stream)
        async with self._lock:
            dirty_buckets = {_bucket(xid) for xid in state.dirty_hashes}
            buckets: dict[int, dict[str, str]] = {b: {} for b in dirty_buckets}
            if dirty_buckets:
                for xid, digest in state.hashes():
                    bucket = _bucket(xid)
                    if bucket in buckets:
                        buckets[bucket][xid] = _b64(digest)
            rows = [RowWrite(key, state.meta_json())]
            rows += [RowWrite(f"{key}:h{b:03d}", {"hashes": content}) for b, content in buckets.items()]
            try:
                await self._client.raw.rows.insert(self.database, self.table, rows, ensure_parent=True)
            except CogniteException as error:
                raise StateError(f"could not commit state to RAW {self.database}/{self.table}: {error}") from error
            state.mark_clean()

    async def close(self) -> None:
        """The client belongs to the caller; nothing to release."""


class RedisStateStore:
    """State in Redis (install the `redis` extra): one JSON key per stream plus a hash of content digests.

    Args:
        url_or_client: A `redis://` URL or a `redis.asyncio.Redis` client (the caller then owns it).
        prefix: Key prefix, so several deployments can share one Redis.
    """

    def __init__(self, url_or_client: str | Any, *, prefix: str = "plex-cognite") -> None:
        import redis.asyncio as aioredis

        self._owned = isinstance(url_or_client, str)
        self._redis: aioredis.Redis = (
            aioredis.Redis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
        )
        self.prefix = prefix

    def _keys(self, pcn: Pcn, stream: str) -> tuple[str, str]:
        base = f"{self.prefix}:state:{pcn}:{stream}"
        return base, base + ":hashes"

    async def load(self, pcn: Pcn, stream: str) -> StreamState:
        """Read the stream's state.

        Raises:
            StateError: When Redis is unreachable or the stored value is corrupt.
        """
        import redis.exceptions

        meta_key, hash_key = self._keys(pcn, stream)
        try:
            # One round trip, one consistent snapshot (commit writes both keys in one transaction too).
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(meta_key)
                pipe.hgetall(hash_key)
                meta_raw, hashes_raw = await pipe.execute()
        except redis.exceptions.RedisError as error:
            raise StateError(f"could not read state from Redis key {meta_key}: {error}") from error
        if meta_raw is None:
            return StreamState()
        try:
            meta = json.loads(meta_raw)
            hashes = {_text(k): _text(v) for k, v in hashes_raw.items()}
            return StreamState.from_json(meta, hashes=hashes)
        except (ValueError, TypeError) as error:
            raise StateError(f"Redis state key {meta_key} is corrupt ({error}); delete it to re-extract") from error

    async def commit(self, pcn: Pcn, stream: str, state: StreamState) -> None:
        """Write the stream's JSON key and the changed digests in one transaction.

        Raises:
            StateError: When Redis refuses the write.
        """
        import redis.exceptions

        meta_key, hash_key = self._keys(pcn, stream)
        pairs, removed = state.hash_changes()
        changed = {xid: _b64(digest) for xid, digest in pairs}
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(meta_key, json.dumps(state.meta_json(), separators=(",", ":")))
                if changed:
                    pipe.hset(hash_key, mapping=dict[Any, Any](changed))
                if removed:
                    pipe.hdel(hash_key, *removed)
                await pipe.execute()
        except redis.exceptions.RedisError as error:
            raise StateError(f"could not commit state to Redis key {meta_key}: {error}") from error
        state.mark_clean()

    async def close(self) -> None:
        """Close the connection pool if this store created it."""
        if self._owned:
            await self._redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
