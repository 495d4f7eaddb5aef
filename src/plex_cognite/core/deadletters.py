"""Where rejected records go: a local JSON-lines file (default), a CDF RAW table, or memory.

Three promises, whatever the store:

- **Exactly once.** A letter's `key` is stable (stream, PCN and a digest of the payload), and a store keeps one
  letter per key: a record rejected again after a restart, a retry, a lookback or on another backfill worker does not
  add a second letter (a new reason replaces the old one).
- **Never dropped.** `add` only buffers (it is the Plex client's callback and must not raise inside a parser);
  `flush` persists and raises `DeadLetterStoreError` when it cannot. The extractor flushes before every state commit,
  so a window whose letters could not be stored is not committed and is read again on the next run.
- **Inspectable and replayable.** `read` lists the letters (filtered by PCN, stream, time), `remove` deletes the ones
  a replay wrote into CDF.

`strict=True` makes any rejected record fatal at the next check point (`raise_if_strict`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plex_cognite.errors import RecordValidationError, StateError
from plex_cognite.typing import DeadLetter

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

try:  # POSIX: several processes of one backfill may share the file
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per file (documented)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DeadLetterStore",
    "DeadLetterStoreError",
    "LocalDeadLetterStore",
    "MemoryDeadLetterStore",
    "RawDeadLetterStore",
]


class DeadLetterStoreError(StateError):
    """Dead letters could not be stored; the windows they came from are not committed."""


class DeadLetterStore:
    """Base of the dead-letter stores: buffering, exactly-once bookkeeping, counting and strict mode.

    Subclasses implement `_persist` (store letters, say which keys were new), `_read_all` and `_remove`.

    Args:
        strict: When True, the first dead letter makes `raise_if_strict()` raise `RecordValidationError`.
        on_new: Called with every letter the store had not seen before, once it is stored (metrics); must not raise.
    """

    def __init__(self, *, strict: bool = False, on_new: Callable[[DeadLetter], None] | None = None) -> None:
        self.strict = strict
        self.on_new = on_new
        #: Letters added, repeats included, per (PCN, stream).
        self.counts: Counter[tuple[str, str]] = Counter()
        #: Letters stored for the first time by this store object, per (PCN, stream).
        self.new_counts: Counter[tuple[str, str]] = Counter()
        self._first: DeadLetter | None = None
        self._pending: dict[str, DeadLetter] = {}
        self._lock = threading.Lock()
        self._flush_lock = asyncio.Lock()

    def add(self, letter: DeadLetter) -> None:
        """Buffer one dead letter (stored by the next `flush`). Never raises; usable as a `DeadLetterCallback`."""
        with self._lock:
            self.counts[(letter.pcn, letter.stream)] += 1
            if self._first is None:
                self._first = letter
            self._pending[letter.key] = letter

    __call__ = add

    def count(self, pcn: str | None = None, stream: str | None = None) -> int:
        """How many dead letters were added (repeats included), for a PCN and/or stream, or in total."""
        return sum(n for (p, s), n in self.counts.items() if pcn in (None, p) and stream in (None, s))

    def count_new(self, pcn: str | None = None, stream: str | None = None) -> int:
        """How many letters this store object stored for the first time (what a run reports as dead-lettered)."""
        return sum(n for (p, s), n in self.new_counts.items() if pcn in (None, p) and stream in (None, s))

    @property
    def pending(self) -> int:
        """Letters buffered and not yet stored."""
        return len(self._pending)

    def raise_if_strict(self) -> None:
        """Raise `RecordValidationError` for the first dead letter when `strict` is on.

        Raises:
            RecordValidationError: In strict mode, once any record was rejected.
        """
        if self.strict and self._first is not None:
            first = self._first
            raise RecordValidationError(
                f"strict mode: a {first.stream} record of PCN {first.pcn} was rejected: {first.reason}",
                payload=first.payload,
            )

    async def flush(self) -> None:
        """Store every buffered letter.

        Raises:
            DeadLetterStoreError: The store could not be written; the letters stay buffered for the next attempt.
        """
        async with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                new_keys = await self._persist(list(pending.values()))
            except Exception as exc:
                with self._lock:
                    self._pending = {**pending, **self._pending}
                raise DeadLetterStoreError(
                    f"{len(pending)} dead letter(s) could not be stored in {self.describe()}: {exc!r}; their "
                    "windows are not committed and are read again on the next run"
                ) from exc
            for key in new_keys:
                letter = pending[key]
                self.new_counts[(letter.pcn, letter.stream)] += 1
                if self.on_new is not None:
                    self.on_new(letter)

    async def read(
        self, *, pcn: str | None = None, stream: str | None = None, since: datetime | None = None
    ) -> list[DeadLetter]:
        """The stored letters (buffered ones are flushed first), oldest first, optionally filtered.

        Args:
            pcn: Only this PCN's.
            stream: Only this stream's.
            since: Only letters rejected at or after this moment (aware).
        """
        await self.flush()
        letters = [
            letter
            for letter in await self._read_all()
            if pcn in (None, letter.pcn) and stream in (None, letter.stream) and (since is None or letter.at >= since)
        ]
        return sorted(letters, key=lambda letter: letter.at)

    async def remove(self, keys: Sequence[str]) -> int:
        """Delete letters by key (missing keys are ignored); return how many were removed."""
        if not keys:
            return 0
        await self.flush()
        return await self._remove(set(keys))

    async def close(self) -> None:
        """Flush and release files or connections."""
        await self.flush()

    def describe(self) -> str:
        """Where the letters go, for messages."""
        return type(self).__name__

    # -- for subclasses --------------------------------------------------------------------------------------------

    async def _persist(self, letters: Sequence[DeadLetter]) -> set[str]:
        raise NotImplementedError

    async def _read_all(self) -> list[DeadLetter]:
        raise NotImplementedError

    async def _remove(self, keys: set[str]) -> int:
        raise NotImplementedError


class MemoryDeadLetterStore(DeadLetterStore):
    """Keeps dead letters in memory, one per key (tests, notebooks).

    Attributes:
        letters: The stored letters, in the order they were first stored.
    """

    def __init__(self, *, strict: bool = False, on_new: Callable[[DeadLetter], None] | None = None) -> None:
        super().__init__(strict=strict, on_new=on_new)
        self._stored: dict[str, DeadLetter] = {}

    @property
    def letters(self) -> list[DeadLetter]:
        """Stored and buffered letters (one per key)."""
        with self._lock:
            return list({**self._stored, **self._pending}.values())

    async def _persist(self, letters: Sequence[DeadLetter]) -> set[str]:
        new = {letter.key for letter in letters if letter.key not in self._stored}
        self._stored.update((letter.key, letter) for letter in letters)
        return new

    async def _read_all(self) -> list[DeadLetter]:
        return list(self._stored.values())

    async def _remove(self, keys: set[str]) -> int:
        removed = [key for key in keys if self._stored.pop(key, None) is not None]
        return len(removed)


class LocalDeadLetterStore(DeadLetterStore):
    """One JSON object per line in a local file, one line per letter key.

    Safe for several processes on one host (each write holds an exclusive `flock` on the file, and each writer
    re-reads what others appended before deciding what is new); workers on several hosts should use the RAW store.

    Args:
        path: The JSONL file (created with its directories on the first letter).
        strict: See `DeadLetterStore`.
        on_new: See `DeadLetterStore`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        strict: bool = False,
        on_new: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        super().__init__(strict=strict, on_new=on_new)
        self.path = Path(path)
        self._reasons: dict[str, str] = {}  # key -> reason, as in the file
        self._read_to: tuple[int, int] = (-1, 0)  # (inode, offset) of what _reasons covers

    def describe(self) -> str:
        """The file."""
        return str(self.path)

    async def _persist(self, letters: Sequence[DeadLetter]) -> set[str]:
        return await asyncio.to_thread(self._persist_locked, letters)

    async def _read_all(self) -> list[DeadLetter]:
        return await asyncio.to_thread(lambda: list(self._letters_in_file().values()))

    async def _remove(self, keys: set[str]) -> int:
        def remove() -> int:
            with self._locked_file() as handle:
                letters = _parse_lines(handle.read())
                kept = {key: letter for key, letter in letters.items() if key not in keys}
                self._rewrite(handle, kept.values())
                return len(letters) - len(kept)

        return await asyncio.to_thread(remove)

    # -- file handling ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                handle.seek(0)
                yield handle
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _persist_locked(self, letters: Sequence[DeadLetter]) -> set[str]:
        with self._locked_file() as handle:
            self._catch_up(handle)
            new = {letter.key for letter in letters if letter.key not in self._reasons}
            changed = any(self._reasons.get(letter.key, letter.reason) != letter.reason for letter in letters)
            if changed:
                handle.seek(0)
                current = _parse_lines(handle.read())
                current.update((letter.key, letter) for letter in letters)
                self._rewrite(handle, current.values())
                return new
            handle.seek(0, os.SEEK_END)
            for letter in letters:
                if letter.key in new:
                    handle.write(_line(letter))
                    self._reasons[letter.key] = letter.reason
            handle.flush()
            os.fsync(handle.fileno())
            self._read_to = (os.fstat(handle.fileno()).st_ino, handle.tell())
            return new

    def _catch_up(self, handle: Any) -> None:
        """Bring `_reasons` up to date with the file (only what was appended since, unless it was rewritten)."""
        stat = os.fstat(handle.fileno())
        inode, offset = self._read_to
        if inode != stat.st_ino or offset > stat.st_size:
            self._reasons, offset = {}, 0
        handle.seek(offset)
        for key, letter in _parse_lines(handle.read()).items():
            self._reasons[key] = letter.reason
        self._read_to = (stat.st_ino, handle.tell())

    def _rewrite(self, handle: Any, letters: Any) -> None:
        """Replace the file's content in place (under the lock), keeping one line per key."""
        handle.seek(0)
        handle.truncate()
        handle.writelines(_line(letter) for letter in letters)
        handle.flush()
        os.fsync(handle.fileno())
        self._reasons = {}
        self._read_to = (-1, 0)

    def _letters_in_file(self) -> dict[str, DeadLetter]:
        if not self.path.exists():
            return {}
        with self._locked_file() as handle:
            return _parse_lines(handle.read())


def _line(letter: DeadLetter) -> str:
    return json.dumps(letter.to_json(), default=str, ensure_ascii=False) + "\n"


def _parse_lines(text: str) -> dict[str, DeadLetter]:
    """Letters by key (the last line of a key wins); unreadable lines are skipped, never fatal."""
    letters: dict[str, DeadLetter] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            letter = DeadLetter.from_json(json.loads(line))
        except (ValueError, TypeError):
            continue
        letters[letter.key] = letter
    return letters


class RawDeadLetterStore(DeadLetterStore):
    """Dead letters as rows of a CDF RAW table, the row key being the letter's key (so writers on any host agree).

    Args:
        client: An `AsyncCogniteClient`.
        database: RAW database (created when missing).
        table: RAW table (created when missing).
        strict: See `DeadLetterStore`.
        on_new: See `DeadLetterStore`.
    """

    def __init__(
        self,
        client: AsyncCogniteClient,
        database: str = "plex_cognite",
        table: str = "dead_letters",
        *,
        strict: bool = False,
        on_new: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        super().__init__(strict=strict, on_new=on_new)
        self._client = client
        self.database = database
        self.table = table
        self._reasons: dict[str, str] | None = None  # key -> reason of the rows, read once

    def describe(self) -> str:
        """The RAW table."""
        return f"RAW {self.database}/{self.table}"

    async def _known(self) -> dict[str, str]:
        if self._reasons is None:
            self._reasons = {letter.key: letter.reason for letter in await self._read_all()}
        return self._reasons

    async def _persist(self, letters: Sequence[DeadLetter]) -> set[str]:
        from cognite.client.data_classes import RowWrite

        known = await self._known()
        new = {letter.key for letter in letters if letter.key not in known}
        changed = [letter for letter in letters if known.get(letter.key) != letter.reason]
        for start in range(0, len(changed), 1000):
            chunk = changed[start : start + 1000]
            rows = [RowWrite(letter.key, _columns(letter)) for letter in chunk]
            await self._client.raw.rows.insert(self.database, self.table, rows, ensure_parent=True)
            known.update((letter.key, letter.reason) for letter in chunk)
        return new

    async def _read_all(self) -> list[DeadLetter]:
        from cognite.client.exceptions import CogniteAPIError

        try:
            rows = await self._client.raw.rows.list(self.database, self.table, limit=None)
        except CogniteAPIError as exc:
            if exc.code == 404:  # no table yet: no letters
                return []
            raise
        letters: list[DeadLetter] = []
        for row in rows:
            with contextlib.suppress(ValueError):
                letters.append(DeadLetter.from_json(row.columns or {}))
        return letters

    async def _remove(self, keys: set[str]) -> int:
        known = await self._known()
        present = [key for key in keys if key in known]
        for start in range(0, len(present), 1000):
            await self._client.raw.rows.delete(self.database, self.table, present[start : start + 1000])
        for key in present:
            known.pop(key, None)
        return len(present)


def _columns(letter: DeadLetter) -> dict[str, Any]:
    return json.loads(json.dumps(letter.to_json(), default=str))  # type: ignore[no-any-return]
