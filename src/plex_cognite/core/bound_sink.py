"""A sink as an extractor sees it: every write accounted in the stream's report and state.

`BoundSink.write(items)` writes and waits for the acknowledgement; `BoundSink.put(items)` queues items for a
pipelined write (batched across calls, several batches in flight) and returns as soon as they are queued. Both
take the history window the items belong to, or none:

- without `window` (snapshot data such as parts or jobs): change detection. Items whose content hash equals the one
  stored for their key are not sent at all; a hash is stored once the sink acknowledged the item. A second run over
  unchanged data therefore makes zero write requests.
- with `window` (history): no hashes are kept (history grows without bound); instead the window is committed only
  after every item written or queued for it was acknowledged.

Either way, an item the sink defers (its asset does not exist yet) is held in state and written again after the
run's other writes; an item the sink refuses for good becomes a dead letter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from plex_cognite.core.pipeline import AsyncBatchProcessor, CommittedBatch
from plex_cognite.typing import KeyedItem, PreparingSink, Sink, TimeWindow, WriteResult

if TYPE_CHECKING:
    from plex_cognite.core._ledger import StreamLedger

__all__ = ["BoundSink"]

ItemT = TypeVar("ItemT", bound=KeyedItem)

#: A queued item with what its acknowledgement settles: a content hash to store, or the window it belongs to.
_Queued = tuple[ItemT, bytes | None, TimeWindow | None]


class BoundSink(Generic[ItemT]):
    """A `Sink` bound to one extractor run (see the module docstring).

    Get one from the extractor (`self.sinks.events`, or `self.bind(name, sink)` for a sink of your own).

    Args:
        ledger: Where the run's accounting goes (a callable, because a bound sink outlives single runs).
        name: The sink's name in the extractor (held items are written back through it).
        sink: The sink.
        batch_size: Items per write for `put`.
        concurrency: Writes in flight for `put`.
        weigh: An item's weight for `max_batch_weight` (for example its datapoint count).
        max_batch_weight: Seal a `put` batch before its weight passes this.
        max_batch_age_s: Seal a `put` batch this long after it opened.
        max_pending: Sealed `put` batches in memory at once (default: concurrency + 2).
        hash_prefix: Prepended to item keys in the state's content hashes, for a sink whose keys may equal another
            sink's (for example data-modeling nodes named like the classic assets).
    """

    def __init__(
        self,
        ledger: Callable[[], StreamLedger],
        name: str,
        sink: Sink[ItemT],
        *,
        batch_size: int = 1000,
        concurrency: int = 4,
        weigh: Callable[[ItemT], int] | None = None,
        max_batch_weight: int | None = None,
        max_batch_age_s: float = 5.0,
        max_pending: int | None = None,
        hash_prefix: str = "",
    ) -> None:
        self._ledger = ledger
        self.hash_prefix = hash_prefix
        self.name = name
        self.sink = sink
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._weigh = weigh
        self.max_batch_weight = max_batch_weight
        self.max_batch_age_s = max_batch_age_s
        self.max_pending = max_pending
        self._processor: AsyncBatchProcessor[_Queued[ItemT]] | None = None

    def __repr__(self) -> str:
        return f"BoundSink({self.name!r}, {type(self.sink).__name__})"

    # -- writing ---------------------------------------------------------------------------------------------------

    async def write(self, items: Sequence[ItemT], *, window: TimeWindow | None = None) -> WriteResult:
        """Write `items` and wait until the sink acknowledged them.

        Args:
            items: The items.
            window: The history window they belong to (no change detection; the window is committed after their
                acknowledgement), or None for snapshot data (change detection by content hash).

        Returns:
            What the sink did (an empty result when every item was unchanged).
        """
        ledger = self._ledger()
        if window is not None:
            ledger.window_opened(window)
            result = await self.sink.write(items) if items else WriteResult()
            ledger.account(self.name, items, result, windows=[window] * len(items))
            return result
        changed, digests = self._changed(ledger, items)
        result = await self.sink.write(changed) if changed else WriteResult()
        ledger.account(self.name, changed, result, digests=digests, hash_prefix=self.hash_prefix)
        return result

    async def put(self, items: Sequence[ItemT], *, window: TimeWindow | None = None) -> None:
        """Queue `items` for a pipelined write; returns once they are queued (waits while the pipeline is full).

        Results are accounted as they arrive; everything queued is acknowledged before the extractor's run ends.

        Args:
            items: The items.
            window: As for `write`.
        """
        ledger = self._ledger()
        processor = await self._open_processor()
        if window is not None:
            ledger.window_items_queued(window, len(items))
            for item in items:
                await processor.put((item, None, window))
            return
        changed, digests = self._changed(ledger, items)
        for item in changed:
            await processor.put((item, digests[item.key], None))

    def _changed(self, ledger: StreamLedger, items: Sequence[ItemT]) -> tuple[list[ItemT], dict[str, bytes]]:
        changed: list[ItemT] = []
        digests: dict[str, bytes] = {}
        for item in items:
            digest = item.content_hash()
            if ledger.state.is_unchanged(self.hash_prefix + item.key, digest):
                ledger.report.unchanged += 1
                continue
            changed.append(item)
            digests[item.key] = digest
        return changed, digests

    # -- the pipeline behind put -----------------------------------------------------------------------------------

    async def _open_processor(self) -> AsyncBatchProcessor[_Queued[ItemT]]:
        if self._processor is not None:
            return self._processor
        weigh = self._weigh
        prepare = None
        if isinstance(self.sink, PreparingSink):
            preparing: PreparingSink[ItemT] = self.sink

            async def prepare(batch: Sequence[_Queued[ItemT]]) -> None:
                await preparing.prepare([item for item, _, _ in batch])

        processor: AsyncBatchProcessor[_Queued[ItemT]] = AsyncBatchProcessor(
            self._write_queued,
            on_commit=self._on_commit,
            batch_size=self.batch_size,
            concurrency=self.concurrency,
            max_pending=self.max_pending,
            max_batch_age_s=self.max_batch_age_s,
            weigh=None if weigh is None else (lambda queued: weigh(queued[0])),
            max_batch_weight=self.max_batch_weight,
            prepare=prepare,
        )
        stack = self._ledger().exit_stack
        stack.callback(self._closed)  # callbacks run last-in first-out: after the pipeline was flushed
        self._processor = await stack.enter_async_context(processor)
        return self._processor

    async def _write_queued(self, batch: Sequence[_Queued[ItemT]]) -> WriteResult:
        return await self.sink.write([item for item, _, _ in batch])

    async def _on_commit(self, batch: CommittedBatch[_Queued[ItemT]]) -> None:
        ledger = self._ledger()
        items = [item for item, _, _ in batch.items]
        windows = [window for _, _, window in batch.items]
        digests = {item.key: digest for item, digest, _ in batch.items if digest is not None}
        ledger.account(
            self.name, items, batch.result, digests=digests or None, windows=windows, hash_prefix=self.hash_prefix
        )
        await ledger.window_items_settled(windows)
        await ledger.maybe_commit()

    def _closed(self) -> None:
        """The run's exit stack closed the pipeline (flushed on success, abandoned on error)."""
        self._processor = None
