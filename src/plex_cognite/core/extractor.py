"""The extractor core: one stream of one PCN, with state committed only after acknowledgement.

`BaseExtractor` is the one extractor model of the library. It knows nothing of Plex or CDF: it runs `extract()`,
gives it bound sinks (`bind`) whose every write is accounted, a `windows()` helper for history read in half-open
windows, and `map_records()` to turn records into items with rejects dead-lettered. Around `extract()`, `run()`
loads the stream's state, flushes every pipelined write, writes held (deferred) items again, and commits.

`plex_cognite.extractors.AsyncBaseExtractor` adds the Plex client, the CDF client and the CDF sinks: every built-in
extractor subclasses it, and so do yours. `StreamExtractor` composes a `Source`, a transform and a `Sink` without
subclassing.

Guarantees, whichever way an extractor writes:

- snapshot data written without a window is change-detected: a re-run over unchanged data sends nothing;
- a history window is committed only once every item written or queued for it was acknowledged, so a crash at any
  point means the window is read again (writes are idempotent upserts, so nothing is duplicated);
- an item whose asset does not exist yet is never written unlinked and never lost: it is held in state and written
  again after the run's other writes, and on later runs until its asset exists;
- an item CDF refuses for good, or a record the transform rejects, becomes a dead letter; the run goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from plex_cognite.core._deferred import HeldItem, held_key, restore_held
from plex_cognite.core._ledger import StreamLedger
from plex_cognite.core._ordered import ordered_fetch
from plex_cognite.core._spans import WindowSpans
from plex_cognite.core._together import collect
from plex_cognite.core.bound_sink import BoundSink
from plex_cognite.core.context import ExtractorContext, ReadAheadBudget, ReadAheadReader
from plex_cognite.core.report import ReplayOutcome, StreamReport
from plex_cognite.core.state import StreamState
from plex_cognite.core.windows import plan_windows
from plex_cognite.errors import CogniteWriteError, RecordValidationError
from plex_cognite.typing import DeadLetter, JSONValue, KeyedItem, Sink, Source, TimeWindow, Transform

__all__ = [
    "BaseExtractor",
    "BoundSink",
    "ExtractorContext",
    "ReadAheadBudget",
    "ReadAheadReader",
    "ReplayOutcome",
    "ReplayUnsupportedError",
    "StreamExtractor",
    "StreamReport",
]

RecordT = TypeVar("RecordT")
ItemT = TypeVar("ItemT", bound=KeyedItem)
MappedT = TypeVar("MappedT")


#: `DeadLetter.error_type` of an item CDF refused for good (`ItemFailure.permanent`): not a record to map again.
ITEM_REJECTED = "ItemRejected"


class ReplayUnsupportedError(Exception):
    """An extractor cannot replay a dead letter from its payload (the letter stays in the store)."""


#: Reads one history window: an awaitable of all its records, or an async iterable of record batches.
WindowFetch = Callable[[TimeWindow], Awaitable[Sequence[RecordT]] | AsyncIterable[Sequence[RecordT]]]


class BaseExtractor(ABC):
    """One stream of one PCN. Subclass, set `stream`, implement `extract`.

    Attributes:
        stream: The stream name (`jobs`, `production`, ...): the state key and the report label.
        needs_assets: True when items link to assets, so the stream runs after the asset streams.
        needs_parts: With `needs_assets`: False when items link only to the plant, buildings and workcenters, not to
            parts. The stream then starts as soon as every asset stream of the PCN has written those (see
            `upper_assets_written`), while parts are still being written.
        span_records: `windows()` reads consecutive planned windows with one fetch while they are expected to hold
            about this many records together (up to 8 windows; 0: one fetch per window). For sparse history whose
            source takes any range in one request: fewer requests, and on a distant network fewer round trips.
        context: The PCN's context (state store, dead letters, history range, batching).
    """

    stream: ClassVar[str] = "custom"
    needs_assets: ClassVar[bool] = True
    needs_parts: ClassVar[bool] = True
    span_records: ClassVar[int] = 0

    def __init__(self, context: ExtractorContext) -> None:
        self.context = context
        self._ledger: StreamLedger | None = None
        self._bound: dict[str, BoundSink[Any]] = {}
        self._upper_assets = asyncio.Event()  # set when they are written, or when the run ends
        self._upper_assets_ok = False

    @property
    def pcn(self) -> str:
        """The PCN this extractor reads."""
        return self.context.pcn

    @property
    def state(self) -> StreamState:
        """The stream's state for the current run (loaded by `run`).

        Raises:
            RuntimeError: Outside `run()`.
        """
        return self._running().state

    @property
    def report(self) -> StreamReport:
        """The current run's report (counters so far).

        Raises:
            RuntimeError: Outside `run()`.
        """
        return self._running().report

    def _running(self) -> StreamLedger:
        if self._ledger is None:
            raise RuntimeError(f"{type(self).__name__}: state, report and sinks are available while run() runs")
        return self._ledger

    # -- sinks -----------------------------------------------------------------------------------------------------

    def bind(
        self,
        name: str,
        sink: Sink[ItemT],
        *,
        batch_size: int | None = None,
        concurrency: int | None = None,
        weigh: Callable[[ItemT], int] | None = None,
        max_batch_weight: int | None = None,
        max_batch_age_s: float = 5.0,
        max_pending: int | None = None,
        hash_prefix: str = "",
    ) -> BoundSink[ItemT]:
        """Bind a sink to this extractor under `name`: writes through it are accounted (see `BoundSink`).

        Held items are written back through the sink of the same name on later runs, so keep names stable.

        Args:
            name: The sink's name in this extractor (`events`, `tools`, ...).
            sink: Any `Sink`.
            batch_size: Items per pipelined write (default `context.batch_size`).
            concurrency: Pipelined writes in flight (default `context.concurrency`).
            weigh: An item's weight for `max_batch_weight`.
            max_batch_weight: Seal a pipelined batch before its weight passes this.
            max_batch_age_s: Seal a pipelined batch this long after it opened.
            max_pending: Sealed batches in memory at once.
            hash_prefix: Prepended to item keys in the state's content hashes (for a sink whose keys may equal
                another sink's).

        Returns:
            The bound sink.
        """
        bound = BoundSink(
            self._running,
            name,
            sink,
            batch_size=batch_size or self.context.batch_size,
            concurrency=concurrency or self.context.concurrency,
            weigh=weigh,
            max_batch_weight=max_batch_weight,
            max_batch_age_s=max_batch_age_s,
            max_pending=max_pending,
            hash_prefix=hash_prefix,
        )
        self._bound[name] = bound
        return bound

    # -- running ---------------------------------------------------------------------------------------------------

    async def run(self, report: StreamReport | None = None) -> StreamReport:
        """Load state, run `extract`, flush, write held items again, commit; return the report.

        Args:
            report: A report to fill in (so a caller keeps the counts of a stream that fails); default a new one.

        Raises:
            Exception: Whatever stopped the stream; `report` holds the counts up to that point, and what CDF
                acknowledged before it is committed.
        """
        report = report if report is not None else StreamReport(self.pcn, self.stream)
        started = time.monotonic()
        dead_before: int | None = None
        ledger: StreamLedger | None = None
        succeeded = False
        try:
            dead_before = self._dead_count()
            state = await self.context.state_store.load(self.pcn, self.stream)
            ledger = self._ledger = StreamLedger(self.context, self.stream, state, report, self._reject_item)
            async with ledger.exit_stack:
                await self.extract()
            await self._write_held(ledger)
            report.deferred += len(state.deferred)
            await ledger.commit()
            self.context.dead_letters.raise_if_strict()
            if report.failed:
                raise CogniteWriteError(
                    f"{report.failed} {self.stream} item(s) could not be written (last: {report.last_failure}); "
                    "their windows stay open and they are written again on the next run",
                    resource=self.stream,
                )
            succeeded = True
        except BaseException as error:
            if ledger is not None:
                note = await _commit_quietly(ledger)
                if note is not None:
                    error.add_note(note)
            raise
        finally:
            if not self._upper_assets.is_set():  # an asset stream that did not say: its end says for it
                self._upper_assets_ok = succeeded
                self._upper_assets.set()
            self._ledger = None
            if dead_before is not None:
                report.dead_lettered = self._dead_count() - dead_before
            report.duration_s = time.monotonic() - started
        return report

    @abstractmethod
    async def extract(self) -> None:
        """Read, map and write through bound sinks; use `windows()` for history."""

    def upper_assets_written(self) -> None:
        """Say, from an asset stream, that its plant, building and workcenter assets were acknowledged.

        Streams that need no parts (`needs_parts = False`) start once every asset stream of the PCN has said so or
        has finished; an asset stream that never calls it lets them start when it finishes, if it succeeded.
        """
        self._upper_assets_ok = True
        self._upper_assets.set()

    async def upper_assets_ready(self) -> bool:
        """Wait until this stream has written its upper asset levels (True) or ended (True if it succeeded)."""
        await self._upper_assets.wait()
        return self._upper_assets_ok

    # -- history windows -------------------------------------------------------------------------------------------

    def history_range(self) -> tuple[datetime, datetime]:
        """The configured `[start, end)` of history (end defaults to now).

        Raises:
            RecordValidationError: When no start is configured.
        """
        if self.context.start is None:
            raise RecordValidationError(f"stream {self.stream} needs extraction.start (a history start)")
        return self.context.start, self.context.end or datetime.now(UTC)

    def planned_windows(self) -> list[TimeWindow]:
        """The windows to read this run: every gap in the state's completed windows, plus the lookback tail.

        Windows are aligned to `start + k * window`, so a re-plan after a partial run asks for the same windows.
        """
        start, end = self.history_range()
        return plan_windows(self.state.windows, start, end, self.context.window, lookback=self.context.lookback)

    async def windows(
        self, fetch: WindowFetch[RecordT], *, lookahead: int | None = None, span_records: int | None = None
    ) -> AsyncIterator[tuple[TimeWindow, list[RecordT]]]:
        """Read every planned window with `fetch` and hand out `(window, records)` in window order.

        Up to `lookahead` windows (default `context.window_concurrency`) are read ahead while earlier ones are
        written, fewer when windows are big (about `context.window_records_ahead` records are held ahead, shared
        with the other streams reading history at the same time when it is a `ReadAheadBudget`). Sparse history
        is read in spans of consecutive windows (`span_records`, default the class's): the window handed out is
        then the whole span. A window is committed once the loop body for it has finished and everything written
        (`write`) or queued (`put`) for it was acknowledged; a transient write failure leaves it open for the next
        run. Pass `window=` to the writes so they are tied to it (no change detection, which history does not
        need).

        Example:
            >>> async for window, entries in self.windows(self.plex.production_entries):
            ...     await self.sinks.events.put([entry_event(e) for e in entries], window=window)

        Args:
            fetch: Reads one window (or span: any half-open range of whole planned windows).
            lookahead: Windows read ahead (>= 1).
            span_records: Records a span of windows read with one fetch should hold (0: one window per fetch).

        Yields:
            Each planned window (or span) with its records.
        """
        ledger = self._running()
        planned = self.planned_windows()
        ledger.report.windows_total += len(planned)
        spans = WindowSpans(planned, self.span_records if span_records is None else span_records)

        async def read(span: tuple[TimeWindow, int]) -> list[RecordT]:
            window = span[0]
            answer = fetch(window)
            records = await collect(answer) if isinstance(answer, AsyncIterable) else list(await answer)
            spans.observe(window, len(records))
            reader.records_left = spans.records_left
            return records

        depth = lookahead or self.context.window_concurrency
        ahead = self.context.window_records_ahead
        budget = ahead if isinstance(ahead, ReadAheadBudget) else ReadAheadBudget(ahead)
        with budget.reading() as reader:
            async for (window, count), records in ordered_fetch(spans, read, depth, size_of=len, budget=reader.share):
                ledger.report.position = window[0]
                ledger.window_opened(window, windows=count)
                failures_before = ledger.transient_failures
                yield window, records
                await ledger.window_body_done(window, failed=ledger.transient_failures != failures_before)
        ledger.report.position = None

    def hold_window(self, window: TimeWindow) -> None:
        """Do not commit `window` in this run, so it is read again on the next run.

        For a window some of whose records cannot be mapped yet; its writes still happen (they are idempotent).
        """
        self._running().hold_window(window)

    # -- records ---------------------------------------------------------------------------------------------------

    def map_records(
        self, records: Sequence[RecordT], transform: Callable[[RecordT], MappedT], *, stream: str | None = None
    ) -> list[MappedT]:
        """Map records read from the source, counting them in `report.read`.

        A record `transform` rejects with `RecordValidationError` becomes a dead letter (payload: the error's
        payload, else the record) and is left out of the result.

        Args:
            records: The records.
            transform: Record -> item (or anything).
            stream: The stream its dead letters are filed under (default `self.stream`), so a replay knows what
                the payload is (for example `parts` within `master_data`).
        """
        self.report.read += len(records)
        mapped: list[MappedT] = []
        for record in records:
            try:
                mapped.append(transform(record))
            except RecordValidationError as error:
                self.dead_letter(_payload(record, error), error.reason, stream=stream, error="RecordValidationError")
        return mapped

    def dead_letter(self, payload: object, reason: str, *, stream: str | None = None, error: str | None = None) -> None:
        """Record a rejected record (counted in the report through the dead-letter store)."""
        self.context.dead_letters.add(
            DeadLetter(stream=stream or self.stream, pcn=self.pcn, reason=reason, payload=payload, error_type=error)
        )

    def dead_letter_streams(self) -> tuple[str, ...]:
        """Stream names whose dead letters count towards this extractor's report (a source may use its own)."""
        return (self.stream,)

    def _dead_count(self) -> int:
        letters = self.context.dead_letters
        return sum(letters.count_new(self.pcn, name) for name in self.dead_letter_streams())

    def _reject_item(self, payload: JSONValue, reason: str) -> None:
        self.dead_letter(payload, reason, error=ITEM_REJECTED)

    # -- replaying dead letters ------------------------------------------------------------------------------------

    def replay_writes(self, letter: DeadLetter) -> Sequence[tuple[BoundSink[Any], Sequence[KeyedItem]]]:
        """The writes that replay one dead letter through the current mapping (override to support replay).

        Rebuild the record from `letter.payload` (the raw Plex row, or the record a transform rejected), map it,
        and say which bound sink takes the items.

        Raises:
            RecordValidationError: The payload still cannot be mapped (its new reason is kept on the letter).
            ReplayUnsupportedError: This extractor cannot replay that letter from its payload.
        """
        raise ReplayUnsupportedError(f"the {self.stream} stream does not replay dead letters from their payload")

    async def replay(self, letters: Sequence[DeadLetter]) -> ReplayOutcome:
        """Re-process dead letters through the current mapping and write what now passes.

        Runs like `run()` (state loaded, writes accounted, held items kept, state committed), but its records come
        from the letters' payloads instead of the source.

        Args:
            letters: Letters of this extractor's streams (`dead_letter_streams()`), for its PCN.

        Returns:
            Which letters were written (remove them from the store), which still fail (with their new reason), and
            which this extractor cannot replay.
        """
        outcome = ReplayOutcome(self.pcn, self.stream)
        state = await self.context.state_store.load(self.pcn, self.stream)
        ledger = self._ledger = StreamLedger(self.context, self.stream, state, outcome.report, self._reject_item)
        try:
            async with ledger.exit_stack:
                for letter in letters:
                    await self._replay_one(letter, ledger, outcome)
            await ledger.commit()
        finally:
            self._ledger = None
        return outcome

    async def _replay_one(self, letter: DeadLetter, ledger: StreamLedger, outcome: ReplayOutcome) -> None:
        try:
            writes = self.replay_writes(letter)
        except RecordValidationError as error:
            outcome.still_failing.append(dataclasses.replace(letter, reason=error.reason, at=datetime.now(UTC)))
            return
        except ReplayUnsupportedError as error:
            outcome.unsupported.append((letter, str(error)))
            return
        ledger.report.read += 1
        failures_before = ledger.transient_failures
        for bound, items in writes:
            await bound.write(items)
        if ledger.transient_failures != failures_before:
            outcome.still_failing.append(
                dataclasses.replace(letter, reason=f"CDF write failed: {ledger.report.last_failure}")
            )
        else:
            outcome.replayed.append(letter)

    # -- held items ------------------------------------------------------------------------------------------------

    def restore_held(self, record: JSONValue) -> HeldItem:
        """Rebuild a held item from its state record (override to read records of an older format).

        Raises:
            ValueError: When the record cannot be read.
        """
        return restore_held(record)

    async def _write_held(self, ledger: StreamLedger) -> None:
        """Write every held item again, per sink, once; what lands leaves `state.deferred`."""
        by_sink: dict[str, list[tuple[str, HeldItem]]] = defaultdict(list)
        for key, record in list(ledger.state.deferred.items()):
            try:
                held = self.restore_held(record)
            except ValueError as exc:
                ledger.report.last_failure = f"held item {key}: {exc}"
                continue
            by_sink[held.sink].append((key, held))
        for name, entries in by_sink.items():
            bound = self._bound.get(name)
            if bound is None:
                continue  # this run did not bind that sink; the items wait for a run that does
            for offset in range(0, len(entries), bound.batch_size):
                chunk = entries[offset : offset + bound.batch_size]
                # Entries leave `state.deferred` only once the sink acknowledged them (the ledger releases them):
                # a write that raises leaves them held for the next run.
                items = [held.item for _, held in chunk]
                digests = {held.item.key: held.digest for _, held in chunk if held.digest is not None}
                result = await bound.sink.write(items)
                ledger.account(name, items, result, digests=digests or None, hash_prefix=bound.hash_prefix)
                failed = {failure.key for failure in result.failed}
                for key, held in chunk:  # entries kept under an earlier key format are released here
                    if key != held_key(name, held.item.key) and held.item.key not in failed:
                        ledger.state.deferred.pop(key, None)


class StreamExtractor(BaseExtractor, Generic[RecordT, ItemT]):
    """An extractor made of parts: a `Source`, a `Transform` and a `Sink`, without subclassing.

    Snapshot mode reads `source.read()` and writes changed items only; windowed mode reads `source.read(window)` for
    every planned window through `windows()`, as every other windowed stream does.

    Args:
        context: The PCN's context.
        stream: Stream name (the state key).
        source: Yields record batches.
        transform: Maps one record to its items; raise `RecordValidationError` to dead-letter a record.
        sink: Writes items.
        mode: `"snapshot"` or `"windowed"`.
        needs_assets: Whether items link to assets (runs after the asset streams).

    Example:
        >>> extractor = StreamExtractor(context, stream="containers", source=ContainerSource(plex, pcn),
        ...                             transform=container_to_event, sink=event_sink)
        >>> report = await extractor.run()
    """

    def __init__(
        self,
        context: ExtractorContext,
        *,
        stream: str,
        source: Source[RecordT],
        transform: Transform[RecordT, ItemT],
        sink: Sink[ItemT],
        mode: Literal["snapshot", "windowed"] = "snapshot",
        needs_assets: bool = True,
    ) -> None:
        super().__init__(context)
        self.stream = stream  # type: ignore[misc]
        self.needs_assets = needs_assets  # type: ignore[misc]
        self.mode = mode
        self.source = source
        self.transform_record = transform
        self.sink = self.bind("sink", sink)

    def _map(self, records: Sequence[RecordT]) -> list[ItemT]:
        per_record = self.map_records(records, lambda record: list(self.transform_record(record)))
        return [item for items in per_record for item in items]

    async def extract(self) -> None:
        """Run the stream in its mode."""
        if self.mode == "snapshot":
            async for records in self.source.read(None):
                await self.sink.put(self._map(records))
            return
        async for window, records in self.windows(self.source.read):
            await self.sink.put(self._map(records), window=window)


def _payload(record: object, error: RecordValidationError) -> object:
    if error.payload is not None:
        return error.payload
    dump = getattr(record, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True)
    return record if isinstance(record, (dict, list, str, int, float, bool)) else repr(record)


async def _commit_quietly(ledger: StreamLedger) -> str | None:
    """Commit what was acknowledged before a failure; return a note when that commit failed too.

    The original error is the one to raise; a failing commit is attached to it as a note rather than hiding it.
    """
    try:
        await asyncio.shield(ledger.commit())
    except Exception as exc:
        return f"committing the acknowledged progress after the failure also failed: {exc!r}"
    return None
