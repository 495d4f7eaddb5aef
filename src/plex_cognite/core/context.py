"""What an extractor needs besides its source and sinks, for one PCN: state, dead letters, history range, batching."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from plex_cognite.core.deadletters import DeadLetterStore, MemoryDeadLetterStore
from plex_cognite.core.report import StreamReport
from plex_cognite.typing import Pcn, StateStore

__all__ = ["ExtractorContext"]


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
            shrinks (down to one window) when windows are big, so a plant's busiest days are not all in memory.
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
    window_records_ahead: int = 20_000
    commit_interval_s: float = 5.0
    on_progress: Callable[[StreamReport], None] | None = None
    on_watermark: Callable[[str, datetime], None] | None = None
