"""The composable extractor: source -> transform -> sink, with state committed only after acknowledgement.

An `Extractor` runs one stream for one PCN. Two write paths cover every stream:

- `write_snapshot(items, sink, state)`: for resources read whole on every run (parts, jobs). Each item's content
  hash is compared with the one in state; unchanged items are not sent at all (a re-run over unchanged data makes
  zero CDF write requests), and a hash is stored only once the sink acknowledged the item.
- `write_windows(chunks, sink, state)`: for history read in half-open windows. A window is added to the state's
  completed set only after every item read from it was acknowledged, in order (`AsyncBatchProcessor`).

Items the sink defers (an asset they link to does not exist yet) are never written unlinked and never lost:
snapshot items are simply re-read next run; windowed items are kept in `state.deferred` and retried by
`retry_deferred` at the start of the next run, after the asset pass. Items the sink rejects become dead letters.

`StreamExtractor` composes a user's `Source`, `Transform` and `Sink` into an extractor without subclassing.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, Literal, TypeVar

from plex_cognite.cdf.ids import DEFAULT_ID_SCHEME, ExternalIdScheme
from plex_cognite.cdf.items import DatapointsItem
from plex_cognite.core._items import KeyedItem, item_from_json, item_key, item_to_json
from plex_cognite.core.deadletters import DeadLetterStore, MemoryDeadLetterStore
from plex_cognite.core.pipeline import AsyncBatchProcessor, CommittedBatch, prefetch
from plex_cognite.core.results import DeadLetter, WriteResult
from plex_cognite.core.state import StreamState
from plex_cognite.core.windows import plan_ranges, plan_windows
from plex_cognite.errors import CogniteWriteError, ValidationError
from plex_cognite.typing import Pcn, Sink, Source, StateStore, TimeWindow, Transform

__all__ = [
    "Chunk",
    "Extractor",
    "ExtractorContext",
    "KeyedItem",
    "StreamExtractor",
    "StreamReport",
    "item_from_json",
    "item_key",
    "item_to_json",
]

RecordT = TypeVar("RecordT")
ItemT = TypeVar("ItemT", bound="KeyedItem")
MappedT = TypeVar("MappedT")


@dataclass(slots=True)
class StreamReport:
    """What one stream did for one PCN in one run.

    Attributes:
        pcn: The PCN.
        stream: The stream name.
        read: Records read from the source.
        written: Items created or updated in CDF (for datapoint streams: the per-series items; see `datapoints`).
        datapoints: Datapoints CDF acknowledged (datapoint streams only).
        unchanged: Items skipped because their content hash matched (or the sink found nothing to change).
        deferred: Items held back because an asset they link to does not exist (yet).
        dead_lettered: Records rejected (validation, mapping, or the sink refusing an item).
        failed: Items CDF did not take (after retries); they are retried on the next run.
        requests: CDF write requests made.
        windows: History windows completed.
        duration_s: Wall time.
        error: One line describing why the stream failed, or None.
    """

    pcn: str
    stream: str
    read: int = 0
    written: int = 0
    datapoints: int = 0
    unchanged: int = 0
    deferred: int = 0
    dead_lettered: int = 0
    failed: int = 0
    requests: int = 0
    windows: int = 0
    duration_s: float = 0.0
    error: str | None = None
    last_failure: str | None = None

    @property
    def ok(self) -> bool:
        """True when the stream finished without error."""
        return self.error is None

    def as_dict(self) -> dict[str, object]:
        """A plain dict (for logs and JSON output)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Chunk(Generic[ItemT]):
    """A batch of items from a windowed source.

    Attributes:
        items: The items (possibly empty).
        completes: Set on the last chunk of a window: every item of that window has been delivered.
    """

    items: Sequence[ItemT]
    completes: TimeWindow | None = None


@dataclass
class ExtractorContext:
    """Everything an extractor needs besides its source and sink, for one PCN.

    Attributes:
        pcn: The PCN.
        state_store: Where state is loaded from and committed to.
        dead_letters: Where rejected records go.
        ids: The external-id scheme.
        data_set_id: Data set for every item (None: none).
        start: History start for windowed streams (aware UTC).
        end: History end, exclusive (aware UTC); None means "now" at run time.
        window: History window length.
        lookback: How much of the most recent completed history every run reads again, to pick up rows entered
            late with a timestamp in a done window (0: none).
        batch_size: Items per sink write.
        concurrency: Concurrent sink writes per stream.
        commit_interval_s: Minimum seconds between state commits while a stream runs (always once at the end).
        on_progress: Called with the stream's report after each commit (progress counters); must not raise.
    """

    pcn: Pcn
    state_store: StateStore
    dead_letters: DeadLetterStore = field(default_factory=MemoryDeadLetterStore)
    ids: ExternalIdScheme = DEFAULT_ID_SCHEME
    data_set_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    window: timedelta = timedelta(days=1)
    lookback: timedelta = timedelta(0)
    batch_size: int = 1000
    concurrency: int = 4
    commit_interval_s: float = 5.0
    on_progress: Callable[[StreamReport], None] | None = None


class _Committer:
    """Commits a stream's state at most every `interval_s` while it runs, and once at the end."""

    def __init__(self, context: ExtractorContext, stream: str, state: StreamState, report: StreamReport) -> None:
        self._context = context
        self._stream = stream
        self._state = state
        self._report = report
        self._last = time.monotonic()

    async def maybe(self) -> None:
        if time.monotonic() - self._last >= self._context.commit_interval_s:
            await self.now()

    async def now(self) -> None:
        await self._context.state_store.commit(self._context.pcn, self._stream, self._state)
        self._last = time.monotonic()
        if self._context.on_progress is not None:
            self._context.on_progress(self._report)


class Extractor(ABC):
    """One stream of one PCN. Subclass and implement `extract`, using the write paths below.

    Attributes:
        stream: The stream name (`jobs`, `production`, ...): the state key and the report label.
        needs_assets: True when items link to assets, so the stream runs after master data.
    """

    stream: ClassVar[str] = "custom"
    needs_assets: ClassVar[bool] = True
    write_mode: ClassVar[Literal["snapshot", "windowed"]] = "snapshot"

    def __init__(self, context: ExtractorContext) -> None:
        self.context = context

    def dead_letter_streams(self) -> tuple[str, ...]:
        """Stream names whose dead letters count towards this extractor's report (the source may use its own)."""
        return (self.stream,)

    def _dead_count(self) -> int:
        return sum(self.context.dead_letters.count(self.pcn, name) for name in self.dead_letter_streams())

    @property
    def pcn(self) -> Pcn:
        """The PCN this extractor reads."""
        return self.context.pcn

    async def run(self, report: StreamReport | None = None) -> StreamReport:
        """Load state, run `extract`, commit, and return the report.

        Args:
            report: A report to fill in (so a caller keeps the counts of a stream that fails); default a new one.

        Raises:
            Exception: Whatever stopped the stream; `report` holds the counts up to that point.
        """
        report = report if report is not None else StreamReport(self.pcn, self.stream)
        started = time.monotonic()
        dead_before = self._dead_count()
        try:
            state = await self.context.state_store.load(self.pcn, self.stream)
            await self.extract(state, report)
            self.context.dead_letters.raise_if_strict()
            if report.failed:
                raise CogniteWriteError(
                    f"{report.failed} {self.stream} item(s) could not be written (last: {report.last_failure}); "
                    "they are retried on the next run",
                    resource=self.stream,
                )
        finally:
            report.dead_lettered = self._dead_count() - dead_before
            report.duration_s = time.monotonic() - started
        return report

    @abstractmethod
    async def extract(self, state: StreamState, report: StreamReport) -> None:
        """Read, transform and write; commit `state` through the write paths."""

    # -- helpers for subclasses ------------------------------------------------------------------------------------

    def history_range(self) -> tuple[datetime, datetime]:
        """The configured `[start, end)` of history (end defaults to now).

        Raises:
            ValidationError: When no start is configured.
        """
        if self.context.start is None:
            raise ValidationError(f"stream {self.stream} needs extraction.start (a history start)")
        end = self.context.end or datetime.now(UTC)
        return self.context.start, end

    def planned_ranges(self, state: StreamState) -> list[TimeWindow]:
        """The parts of `history_range()` to read this run: the gaps in `state`, plus the lookback tail.

        The tail (`context.lookback`, whole windows) re-reads the most recent completed history; see `plan_ranges`.
        Windowed streams read these ranges window by window; with no lookback they are exactly the gaps.
        """
        start, end = self.history_range()
        return plan_ranges(state.windows, start, end, lookback=self.context.lookback, size=self.context.window)

    def planned_windows(self, state: StreamState) -> list[TimeWindow]:
        """`planned_ranges` cut into windows of `context.window`, aligned to the history start."""
        start, end = self.history_range()
        return plan_windows(state.windows, start, end, self.context.window, lookback=self.context.lookback)

    def dead_letter(self, payload: object, reason: str, *, stream: str | None = None, error: str | None = None) -> None:
        """Record a rejected record (counted in the report through the dead-letter store)."""
        self.context.dead_letters.add(
            DeadLetter(stream=stream or self.stream, pcn=self.pcn, reason=reason, payload=payload, error_type=error)
        )

    def map_records(
        self, records: Sequence[RecordT], transform: Callable[[RecordT], MappedT], report: StreamReport
    ) -> list[MappedT]:
        """Map a batch of records read from the source, counting them in `report.read`.

        A record `transform` rejects with `ValidationError` becomes a dead letter (payload: the error's payload,
        else the record) and is left out of the result.
        """
        report.read += len(records)
        mapped: list[MappedT] = []
        for record in records:
            try:
                mapped.append(transform(record))
            except ValidationError as error:
                self.dead_letter(_payload(record, error), error.reason, error="ValidationError")
        return mapped

    def _account(self, result: WriteResult, report: StreamReport) -> dict[str, bool]:
        """Count a write result; return failed keys -> deferred flag.

        Points CDF cannot store (`{series}@{timestamp}` keys: out-of-range times, non-finite values) are permanent
        rejects and become dead letters; other failures (a chunk that failed after retries) are counted in
        `report.failed` and retried on the next run, never dead-lettered.
        """
        report.written += result.written
        report.unchanged += len(result.unchanged)
        report.requests += result.requests
        failed: dict[str, bool] = {}
        for failure in result.failed:
            if "@" in failure.key and not failure.deferred:
                self.dead_letter({"point": failure.key}, f"CDF cannot store the datapoint: {failure.reason}")
                continue
            failed[failure.key] = failure.deferred
            if not failure.deferred:
                report.failed += 1
                report.last_failure = f"{failure.key}: {failure.reason}"
        return failed

    async def write_snapshot(
        self,
        batches: AsyncIterator[Sequence[ItemT]],
        sink: Sink[ItemT],
        state: StreamState,
        report: StreamReport,
        *,
        weigh: Callable[[ItemT], int] | None = None,
        max_batch_weight: int | None = None,
        batch_size: int | None = None,
        concurrency: int | None = None,
    ) -> None:
        """Write items whose content changed since the last acknowledged write; store their hashes on ack.

        `concurrency=1` writes batches strictly one after another, in order (for example parents before children).
        """
        committer = _Committer(self.context, self.stream, state, report)

        async def on_commit(batch: CommittedBatch[tuple[ItemT, bytes]]) -> None:
            failed = self._account(batch.result, report)
            for item, digest in batch.items:
                key = item_key(item)
                if key in failed:
                    report.deferred += failed[key]
                    continue
                state.set_hash(key, digest)
            await committer.maybe()

        async def write(pairs: Sequence[tuple[ItemT, bytes]]) -> WriteResult:
            return await sink.write([item for item, _ in pairs])

        async with AsyncBatchProcessor(
            write,
            on_commit=on_commit,
            batch_size=batch_size or self.context.batch_size,
            concurrency=concurrency or self.context.concurrency,
            max_batch_age_s=5.0,
            weigh=None if weigh is None else (lambda pair: weigh(pair[0])),
            max_batch_weight=max_batch_weight,
        ) as processor:
            async for items in prefetch(batches, maxsize=2):
                for item in items:
                    digest = item.content_hash()
                    if state.is_unchanged(item_key(item), digest):
                        report.unchanged += 1
                        continue
                    await processor.put((item, digest))
        await committer.now()

    async def write_windows(
        self,
        chunks: AsyncIterator[Chunk[ItemT]],
        sink: Sink[ItemT],
        state: StreamState,
        report: StreamReport,
        *,
        weigh: Callable[[ItemT], int] | None = None,
        max_batch_weight: int | None = None,
        batch_size: int | None = None,
        max_batch_age_s: float = 5.0,
        concurrency: int | None = None,
        max_pending: int | None = None,
    ) -> None:
        """Write every item; mark each window done once all its items are acknowledged (in order).

        A batch is sealed when full (`batch_size` items or `max_batch_weight`) or `max_batch_age_s` after it opened;
        `concurrency` and `max_pending` bound the batches in flight (memory is about batch x max_pending).
        """
        committer = _Committer(self.context, self.stream, state, report)
        history_start = self.context.start

        async def on_commit(batch: CommittedBatch[ItemT]) -> None:
            failed = self._account(batch.result, report)
            hard = [key for key, deferred in failed.items() if not deferred]
            if hard:
                # The window stays open (it is not committed), so the next run reads it again: nothing is lost.
                raise CogniteWriteError(
                    f"{len(hard)} {self.stream} item(s) could not be written ({report.last_failure}); "
                    "their window stays open and is read again on the next run",
                    resource=self.stream,
                    external_ids=hard[:20],
                )
            for item in batch.items:
                key = item_key(item)
                if isinstance(item, DatapointsItem) and key not in failed:
                    report.datapoints += len(item.datapoints)
                if failed.get(key):
                    report.deferred += key not in state.deferred
                    state.deferred[key] = item_to_json(item)
            for token in batch.checkpoints:
                assert isinstance(token, tuple)
                window_start, window_end = token
                state.windows.add(window_start, window_end)
                report.windows += 1
                if history_start is not None:
                    gaps = state.windows.gaps(history_start, max(window_end, history_start))
                    state.watermark = gaps[0][0] if gaps else max(window_end, history_start)
            await committer.maybe()

        async with AsyncBatchProcessor(
            sink,
            on_commit=on_commit,
            batch_size=batch_size or self.context.batch_size,
            concurrency=concurrency or self.context.concurrency,
            max_pending=max_pending,
            max_batch_age_s=max_batch_age_s,
            weigh=weigh,
            max_batch_weight=max_batch_weight,
        ) as processor:
            async for chunk in prefetch(chunks, maxsize=2):
                for item in chunk.items:
                    await processor.put(item)
                if chunk.completes is not None:
                    processor.mark(chunk.completes)
        await committer.now()

    async def retry_deferred(self, sink: Sink[Any], state: StreamState, report: StreamReport) -> None:
        """Write the items held in `state.deferred` again (run this after the asset pass)."""
        if not state.deferred:
            return
        pending = list(state.deferred.items())
        for offset in range(0, len(pending), self.context.batch_size):
            chunk = pending[offset : offset + self.context.batch_size]
            items = [item_from_json(payload) for _, payload in chunk]
            result = await sink.write(items)
            failed = self._account(result, report)
            for xid, _ in chunk:
                if xid not in failed:
                    del state.deferred[xid]
        report.deferred = len(state.deferred)
        await self.context.state_store.commit(self.pcn, self.stream, state)


class StreamExtractor(Extractor, Generic[RecordT, ItemT]):
    """An extractor made of parts: a `Source`, a `Transform` and a `Sink`.

    Snapshot mode reads `source.read()` and writes changed items only; windowed mode reads `source.read(window)` for
    every window of history not yet completed.

    Args:
        context: The PCN's context.
        stream: Stream name (the state key).
        source: Yields record batches.
        transform: Maps one record to its items; raise `ValidationError` to dead-letter a record.
        sink: Writes items.
        mode: `"snapshot"` or `"windowed"`.
        needs_assets: Whether items link to assets (runs after master data).

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
        self.write_mode = mode  # type: ignore[misc]
        self.source = source
        self.transform_record = transform
        self.sink = sink

    def _map(self, records: Sequence[RecordT], report: StreamReport) -> list[ItemT]:
        per_record = self.map_records(records, lambda record: list(self.transform_record(record)), report)
        return [item for items in per_record for item in items]

    async def extract(self, state: StreamState, report: StreamReport) -> None:
        """Run the stream in its mode."""
        if self.write_mode == "snapshot":

            async def items() -> AsyncIterator[Sequence[ItemT]]:
                async for records in self.source.read(None):
                    yield self._map(records, report)

            await self.write_snapshot(items(), self.sink, state, report)
            return
        await self.retry_deferred(self.sink, state, report)

        async def chunks() -> AsyncIterator[Chunk[ItemT]]:
            for window in self.planned_windows(state):
                async for records in self.source.read(window):
                    yield Chunk(self._map(records, report))
                yield Chunk((), completes=window)

        await self.write_windows(chunks(), self.sink, state, report)


def _payload(record: object, error: ValidationError) -> object:
    if error.payload is not None:
        return error.payload
    dump = getattr(record, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True)
    return record if isinstance(record, (dict, list, str, int, float, bool)) else repr(record)
