"""The bookkeeping of one stream run: what sinks acknowledged, what is held, which windows are done, when to commit.

Every write an extractor makes (through a `BoundSink`) is accounted here, item by item, from the sink's
`WriteResult`:

- acknowledged items: counted; with change detection, their content hash is stored in state;
- `ItemFailure.deferred`: the item is held in `state.deferred` (so its window can still be committed) and written
  again after the run's other writes, and on later runs until its asset exists;
- `ItemFailure.permanent`: the item becomes a dead letter;
- other failures: counted as failed; the window they belong to is not committed, so it is read again next run.

A history window is committed (added to `state.windows`, the watermark moved) once the extractor finished with it
and every item written or queued for it was acknowledged without a transient failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from plex_cognite.core._deferred import held_key, held_record
from plex_cognite.core.context import ExtractorContext
from plex_cognite.core.report import StreamReport
from plex_cognite.core.state import StreamState
from plex_cognite.typing import JSONValue, KeyedItem, TimeWindow, WriteResult

__all__ = ["StreamLedger"]

#: Called with (payload, reason) for an item CDF refused for good.
RejectItem = Callable[[JSONValue, str], None]


@dataclass(slots=True)
class _WindowProgress:
    windows: int = 1  # planned windows it stands for (a span of several is read and committed as one)
    pending: int = 0
    body_done: bool = False
    failed: bool = False


@dataclass
class StreamLedger:
    """Accounting, held items, window completion and throttled commits for one stream run."""

    context: ExtractorContext
    stream: str
    state: StreamState
    report: StreamReport
    reject: RejectItem
    exit_stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    transient_failures: int = 0
    _windows: dict[TimeWindow, _WindowProgress] = field(default_factory=dict)
    _last_commit: float = field(default_factory=time.monotonic)

    # -- accounting ------------------------------------------------------------------------------------------------

    def account(
        self,
        sink: str,
        items: Sequence[KeyedItem],
        result: WriteResult,
        *,
        digests: Mapping[str, bytes] | None = None,
        windows: Sequence[TimeWindow | None] | None = None,
        hash_prefix: str = "",
    ) -> None:
        """Count one write's result and update state item by item.

        Args:
            sink: The bound sink's name (held items are written back through it).
            items: The items that were written.
            result: What the sink reported.
            digests: Content hashes to store for acknowledged items (change detection), by key.
            windows: The history window of each item (same order as `items`), or None.
            hash_prefix: Prepended to item keys in the state's hashes (keeps sinks whose keys overlap apart).
        """
        report = self.report
        report.written += result.written
        report.unchanged += len(result.unchanged)
        report.requests += result.requests
        report.datapoints += result.datapoints
        if self.state.deferred:
            self._release_held(sink, items, result)
        if not result.failed:
            if digests:
                for key, digest in digests.items():
                    self.state.set_hash(hash_prefix + key, digest)
            return
        index = {item.key: position for position, item in enumerate(items)}
        not_acknowledged: set[str] = set()
        for failure in result.failed:
            position = index.get(failure.key)
            item = None if position is None else items[position]
            if failure.permanent:
                payload: dict[str, JSONValue] = {"sink": sink, "key": failure.key}
                if item is not None:
                    payload["item"] = item.to_json()
                self.reject(payload, failure.reason)
                continue
            not_acknowledged.add(failure.key)
            if failure.deferred and item is not None:
                held_digest = None if digests is None else digests.get(failure.key)
                self.state.deferred[held_key(sink, item.key)] = held_record(sink, item, held_digest)
                continue
            report.failed += 1
            report.last_failure = f"{failure.key}: {failure.reason}"
            self.transient_failures += 1
            window = None if position is None or windows is None else windows[position]
            if window is not None:
                self._progress(window).failed = True
        if digests:
            for key, digest in digests.items():
                if key not in not_acknowledged:
                    self.state.set_hash(hash_prefix + key, digest)

    def _release_held(self, sink: str, items: Sequence[KeyedItem], result: WriteResult) -> None:
        """Items that landed are no longer held (a snapshot re-read may write a held item before its retry)."""
        failed = {failure.key for failure in result.failed}
        for item in items:
            if item.key not in failed:
                self.state.deferred.pop(held_key(sink, item.key), None)

    # -- windows ---------------------------------------------------------------------------------------------------

    def _progress(self, window: TimeWindow) -> _WindowProgress:
        progress = self._windows.get(window)
        if progress is None:
            progress = self._windows[window] = _WindowProgress()
        return progress

    def window_opened(self, window: TimeWindow, *, windows: int = 1) -> None:
        """The extractor starts handing out `window`'s records (a span of `windows` planned windows)."""
        self._progress(window).windows = windows

    def hold_window(self, window: TimeWindow) -> None:
        """Leave `window` open in this run (read again next run) without counting a failure."""
        self._progress(window).failed = True

    def window_items_queued(self, window: TimeWindow, count: int) -> None:
        """`count` items of `window` were queued for a pipelined write."""
        self._progress(window).pending += count

    async def window_items_settled(self, windows: Sequence[TimeWindow | None]) -> None:
        """Queued items were acknowledged (or failed): one entry per item."""
        touched: set[TimeWindow] = set()
        for window in windows:
            if window is not None:
                self._progress(window).pending -= 1
                touched.add(window)
        for window in sorted(touched):
            await self._complete_if_done(window)

    async def window_body_done(self, window: TimeWindow, *, failed: bool) -> None:
        """The extractor finished with `window` (every write for it was made or queued)."""
        progress = self._progress(window)
        progress.body_done = True
        progress.failed = progress.failed or failed
        await self._complete_if_done(window)

    async def _complete_if_done(self, window: TimeWindow) -> None:
        progress = self._windows.get(window)
        if progress is None or not progress.body_done or progress.pending > 0:
            return
        del self._windows[window]
        if progress.failed:
            return  # left open: read again on the next run
        start, end = window
        self.state.windows.add(start, end)
        self.report.windows += progress.windows
        history_start = self.context.start
        if history_start is not None:
            gaps = self.state.windows.gaps(history_start, max(end, history_start))
            self.state.watermark = gaps[0][0] if gaps else max(end, history_start)
            if self.context.on_watermark is not None:
                self.context.on_watermark(self.stream, self.state.watermark)
        await self.maybe_commit()

    # -- commits ---------------------------------------------------------------------------------------------------

    async def maybe_commit(self) -> None:
        """Commit when `commit_interval_s` passed since the last commit."""
        if time.monotonic() - self._last_commit >= self.context.commit_interval_s:
            await self.commit()

    async def commit(self) -> None:
        """Store the buffered dead letters, then commit the state, and report progress.

        Dead letters go first: a window is committed only once the letters of its rejected records are stored
        (`DeadLetterStoreError` otherwise, and the state is not committed).
        """
        await self.context.dead_letters.flush()
        await self.context.state_store.commit(self.context.pcn, self.stream, self.state)
        self._last_commit = time.monotonic()
        if self.context.on_progress is not None:
            self.context.on_progress(self.report)
