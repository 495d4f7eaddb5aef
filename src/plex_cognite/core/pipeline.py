"""Batching with backpressure, concurrent writers and ordered acknowledgement.

`AsyncBatchProcessor` sits between a producer (records read and transformed) and a sink (CDF writes)::

    put(item) --> open batch --(size or age)--> bounded queue --> N writer tasks --> sink.write(batch)
                                                                         |
                       on_commit(batch) <-- commit cursor (contiguous, in order) <-- ack

- **Backpressure**: at most `max_pending` sealed batches exist at any time (queued, being written, or written but
  waiting for an earlier batch); `put` blocks beyond that, so memory is O(batch_size x max_pending).
- **Ordered acknowledgement**: every sealed batch gets a sequence number. Writers finish in any order, but
  `on_commit` is called strictly in sequence order and only over a contiguous prefix of acknowledged batches, so a
  watermark or a completed window attached to batch *k* is committed only once batches 0..k all landed.
- **Preparation**: with `prepare` (or a `PreparingSink`), a sealed batch is prepared at once, while it waits for
  a writer (a linking sink looks up its asset ids), so that round trip is not paid inside the write.
- **Checkpoints**: `mark(token)` attaches a token (a completed window, a watermark) to the current open batch; it is
  handed to `on_commit` with that batch, that is, after every item put before it was acknowledged.
- **Cancellation**: leaving the `async with` block with an exception (or being cancelled) abandons queued and
  in-flight batches without committing them; nothing past the last contiguous acknowledgement is ever committed.
  A normal exit flushes, drains and commits everything.

`prefetch(source, maxsize)` is the other stage boundary: it reads an async iterator ahead into a bounded queue so
reading (network) overlaps with transforming and writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, TypeVar

from plex_cognite.core.results import WriteResult
from plex_cognite.typing import PreparingSink, Sink

__all__ = ["AsyncBatchProcessor", "CommittedBatch", "prefetch"]

ItemT = TypeVar("ItemT")
T = TypeVar("T")

_STOP = object()


@dataclass(slots=True)
class CommittedBatch(Generic[ItemT]):
    """One sealed batch, as handed to `on_commit` once it and every earlier batch were acknowledged.

    Attributes:
        seq: Sequence number (0, 1, 2, ...) in sealing order.
        items: The items that were written (empty for a batch that only carried checkpoints).
        result: What the sink reported (an empty result when there were no items).
        checkpoints: Tokens attached with `mark()` while this batch was open, in order.
    """

    seq: int
    items: list[ItemT]
    result: WriteResult
    checkpoints: list[object] = field(default_factory=list)


@dataclass(slots=True)
class _OpenBatch(Generic[ItemT]):
    items: list[ItemT] = field(default_factory=list)
    checkpoints: list[object] = field(default_factory=list)
    opened_at: float | None = None
    weight: int = 0
    prepared: asyncio.Task[None] | None = None


WriteFn = Callable[[Sequence[ItemT]], Awaitable[WriteResult]]
PrepareFn = Callable[[Sequence[ItemT]], Awaitable[None]]
CommitFn = Callable[[CommittedBatch[ItemT]], Awaitable[None] | None]


class AsyncBatchProcessor(Generic[ItemT]):
    """Batch items, write them with N concurrent writers, and acknowledge them in order.

    Args:
        sink: A `Sink` or an async function `write(items) -> WriteResult`. Exceptions it raises abort the
            processor (the sink is expected to retry what is worth retrying itself).
        on_commit: Called (sync or async) for each batch in sequence order once it and all earlier batches were
            acknowledged. Runs serially: commit state here. An exception aborts the processor.
        batch_size: Items per batch (the CDF limit is 1000 for most resources).
        max_batch_age_s: A non-empty open batch is sealed after this many seconds even if not full.
        concurrency: Concurrent sink writes.
        max_pending: Sealed but not yet committed batches allowed before `put` blocks (default `concurrency + 2`:
            one per write in flight and two ready behind them, so a request starts the moment one returns).
        weigh: Weight of one item (default 1); with `max_batch_weight`, batches are also cut by total weight, e.g.
            datapoints per request (CDF takes 100,000 per insert).
        max_batch_weight: A batch is sealed before an item that would take it past this weight.
        prepare: Called with each batch when it is sealed, before it is written (default: the sink's own `prepare`
            when it is a `PreparingSink`); its errors are ignored.

    Example:
        >>> async def main(sink, items):
        ...     async with AsyncBatchProcessor(sink, batch_size=1000, concurrency=4) as processor:
        ...         for item in items:
        ...             await processor.put(item)
        ...         processor.mark("window-1 done")
    """

    def __init__(
        self,
        sink: Sink[ItemT] | WriteFn[ItemT],
        *,
        on_commit: CommitFn[ItemT] | None = None,
        batch_size: int = 1000,
        max_batch_age_s: float = 1.0,
        concurrency: int = 4,
        max_pending: int | None = None,
        weigh: Callable[[ItemT], int] | None = None,
        max_batch_weight: int | None = None,
        prepare: PrepareFn[ItemT] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self._write: WriteFn[ItemT] = sink.write if isinstance(sink, Sink) else sink
        if prepare is None and isinstance(sink, PreparingSink):
            prepare = sink.prepare
        self._prepare = prepare
        self._on_commit = on_commit
        self.batch_size = batch_size
        self.max_batch_age_s = max_batch_age_s
        self.concurrency = concurrency
        self.max_pending = max_pending if max_pending is not None else concurrency + 2
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {self.max_pending}")
        self._weigh = weigh
        self.max_batch_weight = max_batch_weight
        self._open: _OpenBatch[ItemT] = _OpenBatch()
        self._queue: asyncio.Queue[tuple[int, _OpenBatch[ItemT]] | None] = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.max_pending)
        self._seal_lock = asyncio.Lock()
        self._commit_lock = asyncio.Lock()
        self._next_seq = 0
        self._cursor = 0
        self._done: dict[int, CommittedBatch[ItemT]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._aged = asyncio.Event()
        self._progress = asyncio.Event()
        #: Totals over the processor's life (for reports).
        self.totals = WriteResult()
        self.batches_written = 0
        self.batches_committed = 0

    # -- lifecycle -------------------------------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncBatchProcessor[ItemT]:
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        for index in range(self.concurrency):
            self._tasks.append(self._group.create_task(self._writer(), name=f"batch-writer-{index}"))
        self._tasks.append(self._group.create_task(self._age_watch(), name="batch-age-watch"))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        assert self._group is not None, "AsyncBatchProcessor used without `async with`"
        if exc is None:
            try:
                await self.flush()
            except BaseException as flush_error:
                self._abandon()
                await self._exit_group(type(flush_error), flush_error, flush_error.__traceback__)
                raise
            self._closed = True
            for _ in range(self.concurrency):
                self._queue.put_nowait(None)
            self._tasks[-1].cancel()  # the age watcher has nothing left to do
            return await self._exit_group(None, None, None)
        self._abandon()
        return await self._exit_group(exc_type, exc, tb)

    async def _exit_group(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        assert self._group is not None
        try:
            await self._group.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            # Surface the writer's own error (a CogniteWriteError, a StateError) rather than a group of one.
            first = group.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None
        return None

    def _abandon(self) -> None:
        # Drop the open batch and every queued or in-flight batch; nothing of theirs is committed.
        self._closed = True
        self._open = _OpenBatch()
        for task in self._tasks:
            task.cancel()

    # -- producer side ---------------------------------------------------------------------------------------------

    async def put(self, item: ItemT) -> None:
        """Add one item; waits (backpressure) when `max_pending` batches are outstanding."""
        self._ensure_open()
        if self._weigh is not None and self.max_batch_weight is not None:
            weight = self._weigh(item)
            if self._open.items and self._open.weight + weight > self.max_batch_weight:
                await self._seal()
            self._open.weight += weight
        batch = self._open
        if batch.opened_at is None:
            batch.opened_at = time.monotonic()
            self._aged.set()
        batch.items.append(item)
        if len(batch.items) >= self.batch_size or (
            self.max_batch_weight is not None and batch.weight >= self.max_batch_weight
        ):
            await self._seal()

    async def put_many(self, items: Sequence[ItemT]) -> None:
        """Add several items in order."""
        for item in items:
            await self.put(item)

    def mark(self, checkpoint: object) -> None:
        """Attach `checkpoint` to the open batch: it is committed after every item put so far was acknowledged."""
        self._ensure_open()
        batch = self._open
        if batch.opened_at is None:
            batch.opened_at = time.monotonic()
            self._aged.set()
        batch.checkpoints.append(checkpoint)

    async def flush(self) -> None:
        """Seal the open batch and wait until everything sealed so far is committed."""
        self._ensure_open()
        await self._seal()
        target = self._next_seq
        while self._cursor < target:
            self._progress.clear()
            await self._progress.wait()

    def _ensure_open(self) -> None:
        if self._group is None:
            raise RuntimeError("use AsyncBatchProcessor as `async with AsyncBatchProcessor(...) as processor:`")
        if self._closed:
            raise RuntimeError("this AsyncBatchProcessor is closed")

    async def _seal(self) -> None:
        async with self._seal_lock:
            batch = self._open
            if not batch.items and not batch.checkpoints:
                return
            self._open = _OpenBatch()
            await self._slots.acquire()
            seq = self._next_seq
            self._next_seq += 1
            if batch.items:
                if self._prepare is not None and self._group is not None:
                    batch.prepared = self._group.create_task(self._prepared(batch.items))
                self._queue.put_nowait((seq, batch))
                return
        # A batch of checkpoints only: nothing to write, acknowledge it at once (in order, like any other).
        await self._complete(CommittedBatch(seq, [], WriteResult(), batch.checkpoints))

    async def _age_watch(self) -> None:
        while True:
            await self._aged.wait()
            opened_at = self._open.opened_at
            if opened_at is None:
                self._aged.clear()
                continue
            remaining = opened_at + self.max_batch_age_s - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)
                continue
            if self._open.opened_at == opened_at:
                await self._seal()

    # -- writer side -----------------------------------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            entry = await self._queue.get()
            if entry is None:
                return
            seq, batch = entry
            if batch.prepared is not None:
                await batch.prepared
                batch.prepared = None
            result = await self._write(batch.items)
            self.batches_written += 1
            await self._complete(CommittedBatch(seq, batch.items, result, batch.checkpoints))

    async def _prepared(self, items: Sequence[ItemT]) -> None:
        assert self._prepare is not None
        with contextlib.suppress(Exception):  # the write meets the error again and reports it item by item
            await self._prepare(items)

    async def _complete(self, batch: CommittedBatch[ItemT]) -> None:
        self._done[batch.seq] = batch
        async with self._commit_lock:
            while self._cursor in self._done:
                ready = self._done.pop(self._cursor)
                self.totals.requests += ready.result.requests
                if self._on_commit is not None:
                    outcome = self._on_commit(ready)
                    if outcome is not None:
                        await outcome
                self._cursor += 1
                self.batches_committed += 1
                self._slots.release()
                self._progress.set()

    @property
    def committed_seq(self) -> int:
        """How many batches have been committed (the commit cursor)."""
        return self._cursor


async def prefetch(source: AsyncIterator[T], maxsize: int = 2) -> AsyncIterator[T]:
    """Read `source` ahead into a bounded queue of `maxsize`, so that reading overlaps with processing.

    Exceptions from `source` are re-raised at the point of consumption; closing the consumer cancels the reader.

    Args:
        source: Any async iterator (for example a `Source.read(...)` call).
        maxsize: Elements read ahead at most.
    """
    queue: asyncio.Queue[tuple[bool, object]] = asyncio.Queue(maxsize=max(1, maxsize))

    async def reader() -> None:
        try:
            async for element in source:
                await queue.put((True, element))
        except Exception as error:  # handed to the consumer, re-raised there
            await queue.put((False, error))
            return
        await queue.put((False, _STOP))

    task = asyncio.create_task(reader(), name="prefetch-reader")
    try:
        while True:
            ok, value = await queue.get()
            if ok:
                yield value  # type: ignore[misc]
                continue
            if value is _STOP:
                return
            assert isinstance(value, BaseException)
            raise value
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
