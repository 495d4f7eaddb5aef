"""What an extractor needs besides its source and sinks, for one PCN: state, dead letters, history range, batching."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from plex_cognite.core.deadletters import DeadLetterStore, MemoryDeadLetterStore
from plex_cognite.core.report import StreamReport
from plex_cognite.typing import Pcn, StateStore

__all__ = ["ExtractorContext", "ReadAheadBudget", "ReadAheadReader"]


class ReadAheadBudget:
    """How many records of history windows may be held ahead of the ones being written, shared by streams.

    Every stream reading history windows with this budget claims a share of it while it reads (`reading()`), so
    streams that run at the same time hold about `records` between them, not each; when one finishes, the others'
    shares grow again. A reader that says how many records it still expects to read (`ReadAheadReader.records_left`)
    gets a share in proportion to them: a plant's production entries, read a few busy days at a time, get most of it
    and sparse scrap or status history, read a week per request, little. `open_resources` makes one per run and
    `extractor_context` gives it to every extractor.

    Args:
        records: The records to hold ahead, across all readers (>= 1).

    Raises:
        ValueError: When `records` is below 1.
    """

    def __init__(self, records: int = 20_000) -> None:
        if records < 1:
            raise ValueError(f"a read-ahead budget needs at least one record, got {records}")
        self.records = records
        self._readers: list[ReadAheadReader] = []

    @property
    def readers(self) -> int:
        """Streams reading windows with this budget right now."""
        return len(self._readers)

    def share(self) -> int:
        """An equal share: the records one reader may hold ahead now when none says what it expects (at least 1)."""
        return max(1, self.records // max(1, len(self._readers)))

    def share_of(self, reader: ReadAheadReader) -> int:
        """The records `reader` may hold ahead now: its part of the records all readers still expect (at least 1).

        A reader that expects nothing yet counts as expecting what the others do on average; while no reader
        expects anything, every share is equal.
        """
        expected = [other.records_left for other in self._readers if other.records_left is not None]
        if reader.records_left is None or not expected:
            return self.share()
        total = sum(expected) * len(self._readers) / len(expected)
        return max(1, int(self.records * reader.records_left / total)) if total > 0 else self.share()

    @contextlib.contextmanager
    def reading(self) -> Iterator[ReadAheadReader]:
        """Claim a share while the block runs (a stream's whole pass over its windows)."""
        reader = ReadAheadReader(self)
        self._readers.append(reader)
        try:
            yield reader
        finally:
            self._readers.remove(reader)

    def __repr__(self) -> str:
        return f"ReadAheadBudget(records={self.records}, readers={len(self._readers)})"


class ReadAheadReader:
    """One stream's claim on a `ReadAheadBudget`, from `ReadAheadBudget.reading()`.

    Attributes:
        records_left: The records the stream still expects to read (an estimate, updated as it reads), or None
            while it cannot tell.
    """

    __slots__ = ("_budget", "records_left")

    def __init__(self, budget: ReadAheadBudget) -> None:
        self._budget = budget
        self.records_left: int | None = None

    def share(self) -> int:
        """The records this reader may hold ahead now (see `ReadAheadBudget.share_of`)."""
        return self._budget.share_of(self)


@dataclass
class ExtractorContext:
    """Everything an extractor needs besides its source and sinks, for one PCN.

    Attributes:
        pcn: The PCN.
        state_store: Where state is loaded from and committed to.
        dead_letters: Where rejected records go.
        start: History start for windowed streams (aware UTC).
        end: History end, exclusive (aware UTC); None means "now" at run time.
        window: History window length.
        lookback: How much of the most recent completed history every run reads again, to pick up rows entered
            late with a timestamp in a done window (0: none).
        batch_size: Items per sink write.
        concurrency: Concurrent sink writes per bound sink.
        window_concurrency: History windows fetched ahead of the one being written.
        window_records_ahead: Records of history windows held ahead of the one being written: the read-ahead
            shrinks (down to one window) when windows are big, so a plant's busiest days are not all in memory. An
            int is this extractor's own budget; a `ReadAheadBudget` is shared with every extractor given the same
            one (a run shares one between all its streams).
        commit_interval_s: Minimum seconds between state commits while a stream runs (always once at the end).
        on_progress: Called with the stream's report after each commit (progress counters); must not raise.
        on_watermark: Called with (stream, watermark) whenever a committed window moves a watermark (metrics);
            must not raise.
    """

    pcn: Pcn
    state_store: StateStore
    dead_letters: DeadLetterStore = field(default_factory=MemoryDeadLetterStore)
    start: datetime | None = None
    end: datetime | None = None
    window: timedelta = timedelta(days=1)
    lookback: timedelta = timedelta(0)
    batch_size: int = 1000
    concurrency: int = 4
    window_concurrency: int = 4
    window_records_ahead: int | ReadAheadBudget = 20_000
    commit_interval_s: float = 5.0
    on_progress: Callable[[StreamReport], None] | None = None
    on_watermark: Callable[[str, datetime], None] | None = None
