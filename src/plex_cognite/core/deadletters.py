"""Where rejected records go: a local JSON-lines file (default) or a CDF RAW table.

A dead letter keeps the stream, PCN, reason, error type and the raw payload, so it can be inspected and replayed.
`DeadLetterStore.add` is synchronous and never raises (it is the `on_dead_letter` callback of the Plex client);
with `strict=True` the run is stopped at the next check point (`raise_if_strict`), so strict mode fails fast
without ever raising inside a parser.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plex_cognite.core.results import DeadLetter
from plex_cognite.errors import RecordValidationError

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

__all__ = ["DeadLetterStore", "LocalDeadLetterStore", "MemoryDeadLetterStore", "RawDeadLetterStore"]


class DeadLetterStore:
    """Base of the dead-letter stores: counting, strict mode, and the callback form.

    Subclasses implement `_store` (sync, buffered) and may override `flush`/`close` (async).

    Args:
        strict: When True, the first dead letter makes `raise_if_strict()` raise `RecordValidationError`.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.counts: Counter[tuple[str, str]] = Counter()
        self._first: DeadLetter | None = None
        self._lock = threading.Lock()

    def add(self, letter: DeadLetter) -> None:
        """Record one dead letter. Never raises; usable as a `DeadLetterCallback`."""
        with self._lock:
            self.counts[(letter.pcn, letter.stream)] += 1
            if self._first is None:
                self._first = letter
            self._store(letter)

    __call__ = add

    def count(self, pcn: str | None = None, stream: str | None = None) -> int:
        """How many dead letters were recorded (for a PCN and/or stream, or in total)."""
        return sum(n for (p, s), n in self.counts.items() if pcn in (None, p) and stream in (None, s))

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

    def _store(self, letter: DeadLetter) -> None:
        raise NotImplementedError

    async def flush(self) -> None:
        """Persist buffered dead letters."""

    async def close(self) -> None:
        """Flush and release files or connections."""
        await self.flush()


class MemoryDeadLetterStore(DeadLetterStore):
    """Keeps dead letters in a list (tests, notebooks)."""

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.letters: list[DeadLetter] = []

    def _store(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


class LocalDeadLetterStore(DeadLetterStore):
    """Appends one JSON object per dead letter to a local file (JSON lines).

    Args:
        path: The JSONL file (created with its directories on the first dead letter).
        strict: See `DeadLetterStore`.
    """

    def __init__(self, path: str | os.PathLike[str], *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.path = Path(path)
        #: Dead letters that could not be appended to the file (still counted).
        self.write_errors = 0

    def _store(self, letter: DeadLetter) -> None:
        line = json.dumps(letter.to_json(), default=str, ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError:
            # add() must not raise: the letter is still counted and reported; the run summary shows the count.
            self.write_errors += 1


class RawDeadLetterStore(DeadLetterStore):
    """Writes dead letters to a CDF RAW table, buffered, in batches on `flush()`.

    Row keys are a digest of (stream, PCN, payload), so a re-run that rejects the same record again overwrites its
    row instead of adding another.

    Args:
        client: An `AsyncCogniteClient`.
        database: RAW database (created when missing).
        table: RAW table (created when missing).
        strict: See `DeadLetterStore`.
    """

    def __init__(
        self,
        client: AsyncCogniteClient,
        database: str = "plex_cognite",
        table: str = "dead_letters",
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(strict=strict)
        self._client = client
        self.database = database
        self.table = table
        self._buffer: list[DeadLetter] = []
        self._flush_lock = asyncio.Lock()

    def _store(self, letter: DeadLetter) -> None:
        self._buffer.append(letter)

    async def flush(self) -> None:
        """Write buffered dead letters (1000 rows per request)."""
        from cognite.client.data_classes import RowWrite

        async with self._flush_lock:
            with self._lock:
                pending, self._buffer = self._buffer, []
            for start in range(0, len(pending), 1000):
                rows = [RowWrite(_row_key(letter), _columns(letter)) for letter in pending[start : start + 1000]]
                await self._client.raw.rows.insert(self.database, self.table, rows, ensure_parent=True)


def _row_key(letter: DeadLetter) -> str:
    body = json.dumps([letter.stream, letter.pcn, letter.payload], sort_keys=True, default=str)
    return f"{letter.pcn}:{letter.stream}:{hashlib.blake2b(body.encode(), digest_size=12).hexdigest()}"


def _columns(letter: DeadLetter) -> dict[str, Any]:
    return json.loads(json.dumps(letter.to_json(), default=str))  # type: ignore[no-any-return]
