"""Public Protocols and type aliases: implement these to plug your own parts into plex-cognite.

Every Protocol here is structural: any object with the right methods fits, no subclassing needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, Self, TypeAlias, TypeVar, runtime_checkable

# The result dataclasses live in a dependency-free module; they are part of the contract, so they are re-exported.
from plex_cognite._results import DeadLetter, ItemFailure, WriteResult

if TYPE_CHECKING:
    from plex_cognite.core.state import StreamState

__all__ = [
    "AssetId",
    "BreakerListener",
    "CacheBackend",
    "CacheValue",
    "DeadLetter",
    "DeadLetterCallback",
    "ExternalId",
    "ItemFailure",
    "JSONValue",
    "KeyedItem",
    "Pcn",
    "PreparingSink",
    "RateLimiter",
    "Sink",
    "Source",
    "StateStore",
    "TimeWindow",
    "Transform",
    "WriteResult",
]

#: A CDF external id (a string unique per resource type in a project).
ExternalId: TypeAlias = str
#: A CDF numeric internal id.
AssetId: TypeAlias = int
#: A Plex Customer Number, digits only, kept as a string (never zero-padded).
Pcn: TypeAlias = str
#: Any value that survives a JSON round trip.
JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"
#: What cache backends store.
CacheValue: TypeAlias = JSONValue
#: Called with every record that is rejected; it must not raise.
DeadLetterCallback: TypeAlias = "Callable[[DeadLetter], None]"
#: A half-open time window `[start, end)`, both ends aware UTC.
TimeWindow: TypeAlias = tuple[datetime, datetime]

RecordT_co = TypeVar("RecordT_co", covariant=True)
RecordT_contra = TypeVar("RecordT_contra", contravariant=True)
ItemT_co = TypeVar("ItemT_co", covariant=True)
ItemT_contra = TypeVar("ItemT_contra", contravariant=True)


@runtime_checkable
class CacheBackend(Protocol):
    """An async, batch-first key-value cache.

    Missing keys are simply absent from `get_many`'s result. Implementations must be safe to share between
    tasks (and, for the memory cache, threads).
    """

    async def get_many(self, keys: Sequence[str]) -> dict[str, CacheValue]:
        """Return the cached values of those keys that are present and not expired."""
        ...

    async def set_many(self, items: Mapping[str, CacheValue], ttl: float | None = None) -> None:
        """Store values; `ttl` in seconds overrides the backend's default (None: the default)."""
        ...

    async def delete_many(self, keys: Sequence[str]) -> None:
        """Remove keys (missing keys are ignored)."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix`; return how many were removed."""
        ...

    async def clear(self) -> None:
        """Remove everything this backend owns (its namespace only, for shared stores)."""
        ...


@runtime_checkable
class RateLimiter(Protocol):
    """Admits calls at a bounded rate; `acquire` waits until a call may go."""

    async def acquire(self, key: str = "default", cost: float = 1.0) -> None:
        """Wait until `cost` calls may be made under `key` (for example one PCN's API key)."""
        ...


@runtime_checkable
class BreakerListener(Protocol):
    """Hears what a circuit breaker does; metrics and logs hook in here. Methods must not raise."""

    def on_state_change(self, name: str, old: str, new: str) -> None:
        """The breaker `name` moved from state `old` to `new` (`closed`, `open`, `half_open`)."""
        ...

    def on_rejected(self, name: str, retry_in: float) -> None:
        """A call was refused because the breaker is open; it may be tried in `retry_in` seconds."""
        ...


@runtime_checkable
class KeyedItem(Protocol):
    """What the write paths need of an item: an identity, a content hash, and a JSON round trip.

    Every CDF item of the library (`AssetItem`, `EventItem`, ..., the data-modeling node items) fits; so does any
    item type of yours with these four members, which is all the extractor needs to detect changes, hold an item
    back until its asset exists (kept in state as JSON), and dead-letter an item CDF refuses.
    """

    @property
    def key(self) -> str:
        """The item's identity in its sink (an external id, a RAW row key)."""
        ...

    def content_hash(self) -> bytes:
        """A stable digest of what is written (equal content, equal digest, in any process)."""
        ...

    def to_json(self) -> JSONValue:
        """The item as JSON (`from_json(to_json())` gives an equal item)."""
        ...

    @classmethod
    def from_json(cls, data: JSONValue) -> Self:
        """Rebuild an item from `to_json()` output; raise `ValueError` for anything else."""
        ...


@runtime_checkable
class Source(Protocol[RecordT_co]):
    """Where records come from: an async iterator of record batches for one PCN.

    Snapshot sources (parts, jobs) ignore `window` and yield everything; history sources read the half-open
    `window` only. Batches keep memory bounded: yield lists of a few hundred to a few thousand records.
    """

    def read(self, window: TimeWindow | None = None) -> AsyncIterator[Sequence[RecordT_co]]:
        """Yield batches of records (all of them, or those in `window` for history sources)."""
        ...


@runtime_checkable
class Sink(Protocol[ItemT_contra]):
    """Where items go: an idempotent, acknowledged write (upsert by external id)."""

    async def write(self, items: Sequence[ItemT_contra]) -> WriteResult:
        """Write `items`; report item by item what landed, what failed and what was deferred."""
        ...


@runtime_checkable
class PreparingSink(Sink[ItemT_contra], Protocol[ItemT_contra]):
    """A sink that can get ready for a write before it is made (optional; a plain `Sink` works everywhere).

    A pipelined write (`BoundSink.put`, `AsyncBatchProcessor`) calls `prepare` with a batch as soon as the batch is
    sealed, while earlier batches are still being written, and `write` with the same batch once a writer is free:
    the CDF event and time-series sinks look up the batch's asset ids there, so the lookup's round trip is not
    paid inside the write. `prepare` must not change what `write` does, only make it cheaper; its errors are
    ignored (the write meets them again and reports them item by item).
    """

    async def prepare(self, items: Sequence[ItemT_contra]) -> None:
        """Get ready to write `items` (for example, look up what the write will need)."""
        ...


class Transform(Protocol[RecordT_contra, ItemT_co]):
    """A pure mapping from one source record to zero or more CDF items.

    Plain functions fit: `def job_to_event(job: Job) -> list[EventItem]`. Raise
    `plex_cognite.errors.RecordValidationError` for a record that cannot be mapped; it becomes a dead letter.
    """

    def __call__(self, record: RecordT_contra, /) -> Sequence[ItemT_co]:
        """Map one record to its items."""
        ...


@runtime_checkable
class StateStore(Protocol):
    """Durable extraction state per (PCN, stream): watermark, completed windows and content hashes.

    The pipeline commits only what the sink acknowledged, so a store never needs transactions: a crash between a
    write and a commit means the write is repeated (idempotently) on the next run.
    """

    async def load(self, pcn: Pcn, stream: str) -> StreamState:
        """Return the stored state (an empty state when there is none). Raise `StateError` when unreadable."""
        ...

    async def commit(self, pcn: Pcn, stream: str, state: StreamState) -> None:
        """Persist `state` durably (what changed since the last commit at least). Raise `StateError` on failure."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
