"""Results that sinks hand back to the pipeline, and the dead-letter record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["DeadLetter", "ItemFailure", "WriteResult"]


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One item a sink could not write.

    Attributes:
        key: The item's external id (or another stable key).
        reason: Why it failed, in words a person can act on.
        deferred: True when the item was held back (for example its asset does not exist yet) and will be retried
            after the next asset pass, rather than rejected.
    """

    key: str
    reason: str
    deferred: bool = False


@dataclass(slots=True)
class WriteResult:
    """What one sink write did, item by item.

    External ids are listed (not only counted) so the pipeline can acknowledge exactly the records that landed.
    Memory stays O(batch) because a result covers one batch.
    """

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[ItemFailure] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        """True when no item failed or was deferred."""
        return not self.failed

    @property
    def written(self) -> int:
        """Items created or updated."""
        return len(self.created) + len(self.updated)

    def merge(self, other: WriteResult) -> WriteResult:
        """Add another result into this one and return self."""
        self.created.extend(other.created)
        self.updated.extend(other.updated)
        self.unchanged.extend(other.unchanged)
        self.failed.extend(other.failed)
        self.requests += other.requests
        return self


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that failed validation or mapping, kept with everything needed to replay it.

    Attributes:
        stream: The stream it came from (`jobs`, `production`, ...).
        pcn: The PCN it belongs to.
        reason: Why it was rejected.
        payload: The raw record as Plex sent it (JSON-serialisable).
        error_type: The exception type name, when an exception caused it.
        at: When it was rejected (aware UTC).
    """

    stream: str
    pcn: str
    reason: str
    payload: Any
    error_type: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (one line of the JSONL dead-letter file)."""
        return {
            "stream": self.stream,
            "pcn": self.pcn,
            "reason": self.reason,
            "error_type": self.error_type,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "payload": self.payload,
        }
