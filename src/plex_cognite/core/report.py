"""What one stream did for one PCN in one run: the counters every extractor fills in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from plex_cognite.typing import DeadLetter

__all__ = ["ReplayOutcome", "StreamReport"]


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
        deleted: Items deleted in CDF (RAW rows of records that left a snapshot).
        requests: CDF write requests made.
        windows: History windows completed.
        windows_total: History windows planned for this run (progress: `windows` of `windows_total`).
        position: Start of the history window being read (progress), or None.
        duration_s: Wall time.
        error: One line describing why the stream failed, or None.
        last_failure: The last item failure (key and reason), for the error message.
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
    deleted: int = 0
    requests: int = 0
    windows: int = 0
    windows_total: int = 0
    position: datetime | None = None
    duration_s: float = 0.0
    error: str | None = None
    last_failure: str | None = None

    @property
    def ok(self) -> bool:
        """True when the stream finished without error."""
        return self.error is None

    @property
    def records_per_s(self) -> float | None:
        """Records read per second of the stream's run (None until it finished)."""
        return self.read / self.duration_s if self.duration_s > 0 else None

    def as_dict(self) -> dict[str, object]:
        """A plain dict (for logs and JSON output); `position` as an ISO 8601 string."""
        data = dataclasses.asdict(self)
        data["position"] = None if self.position is None else self.position.isoformat()
        return data


@dataclass
class ReplayOutcome:
    """What replaying one stream's dead letters did.

    Attributes:
        pcn: The PCN.
        stream: The extractor's stream.
        replayed: Letters whose records now passed and were written (or held for a missing asset): remove them.
        still_failing: Letters whose records still fail, with their new reason: keep them.
        unsupported: Letters this extractor cannot replay from their payload, with why: keep them.
        report: The writes the replay made.
    """

    pcn: str
    stream: str
    replayed: list[DeadLetter] = field(default_factory=list)
    still_failing: list[DeadLetter] = field(default_factory=list)
    unsupported: list[tuple[DeadLetter, str]] = field(default_factory=list)
    report: StreamReport = field(init=False)

    def __post_init__(self) -> None:
        self.report = StreamReport(self.pcn, self.stream)
