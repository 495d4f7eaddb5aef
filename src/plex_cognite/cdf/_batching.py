"""Chunking, and a single-flight micro-batcher for lookups.

`MicroBatcher` coalesces concurrent lookups: every key asked for while no answer is known joins a pending set; one
tick later the set is cut into chunks (1000 keys for `byids`) and fetched with bounded concurrency. A key already in
flight is never asked for again: later callers await the same future. So N tasks asking for overlapping keys cost
one request per `chunk_size` distinct keys.

A batcher belongs to one event loop (its futures do); `PerLoop` keeps one such object per running loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

__all__ = ["MicroBatcher", "PerLoop", "chunked"]


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most `size` items (no copy for lists beyond the slice)."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PerLoop(Generic[T]):
    """One `T` per running event loop, made on first use (asyncio primitives belong to the loop that made them).

    Args:
        factory: Makes the object for a loop.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """The running loop's object."""
        loop = asyncio.get_running_loop()
        value = self._by_loop.get(loop)
        if value is None:
            value = self._by_loop[loop] = self._factory()
        return value


class MicroBatcher(Generic[K, V]):
    """Coalesce concurrent lookups of keys into chunked, bounded-concurrency fetches.

    Args:
        fetch: Looks up one chunk; returns the found keys (missing keys are simply absent).
        chunk_size: Keys per fetch.
        max_concurrency: Fetches in flight at once.
    """

    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[dict[K, V]]],
        *,
        chunk_size: int = 1000,
        max_concurrency: int = 4,
    ) -> None:
        self._fetch = fetch
        self._chunk_size = chunk_size
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._in_flight: dict[K, asyncio.Future[V | None]] = {}
        self._pending: list[K] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, keys: Iterable[K]) -> dict[K, asyncio.Future[V | None]]:
        """Register keys (synchronously: no await between here and the caller's check of its local cache).

        Returns:
            A future per key, resolving to the value or None when the key does not exist.
        """
        loop = asyncio.get_running_loop()
        futures: dict[K, asyncio.Future[V | None]] = {}
        for key in keys:
            if key in futures:
                continue
            future = self._in_flight.get(key)
            if future is None:
                future = loop.create_future()
                self._in_flight[key] = future
                self._pending.append(key)
            futures[key] = future
        if self._pending and not self._flush_scheduled:
            self._flush_scheduled = True
            task = loop.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return futures

    async def _flush(self) -> None:
        # One tick: let every task that is ready in this loop iteration add its keys first.
        await asyncio.sleep(0)
        keys, self._pending = self._pending, []
        self._flush_scheduled = False
        await asyncio.gather(*(self._fetch_chunk(list(chunk)) for chunk in chunked(keys, self._chunk_size)))

    async def _fetch_chunk(self, keys: list[K]) -> None:
        try:
            async with self._semaphore:
                found = await self._fetch(keys)
        except BaseException as exc:
            for key in keys:
                future = self._in_flight.pop(key, None)
                if future is None or future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
                    # Mark retrieved: a caller that already gave up must not trigger "exception never retrieved".
                    future.exception()
            if not isinstance(exc, Exception):
                raise
            return
        for key in keys:
            future = self._in_flight.pop(key, None)
            if future is not None and not future.done():
                future.set_result(found.get(key))
