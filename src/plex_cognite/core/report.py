"""What one stream did for one PCN in one run: the counters every extractor fills in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

__all__ = ["StreamReport"]


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
        windows_planned: History windows planned for this run (progress: `windows` of `windows_planned`).
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
    windows_planned: int = 0
    position: datetime | None = None
    duration_s: float = 0.0
    error: str | None = None
    last_failure: str | None = None

    @property
    def ok(self) -> bool:
        """True when the stream finished without error."""
        return self.error is None

    def as_dict(self) -> dict[str, object]:
        """A plain dict (for logs and JSON output); `position` as an ISO 8601 string."""
        data = dataclasses.asdict(self)
        data["position"] = None if self.position is None else self.position.isoformat()
        return data
