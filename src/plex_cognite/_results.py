"""Results that sinks hand back to the pipeline, and the dead-letter record.

These dataclasses are part of the public contract and are re-exported by `plex_cognite.typing`; this module has no
dependencies inside the package, so every layer may import it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["DeadLetter", "ItemFailure", "WriteResult"]


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One item a sink could not write.

    Three kinds, told apart by the flags (never by the shape of `key`):

    - `deferred`: held back because an asset it links to does not exist yet. The extractor retries it after the
      run's other writes, then keeps it in state for the next run.
    - `permanent`: CDF will never take it as it is (a value out of range, a node the API rejects). The extractor
      dead-letters it, and its window is committed.
    - neither: transient (the batch failed after retries). The extractor counts it as failed; its window stays
      open and is read again on the next run.

    Attributes:
        key: The item's key (`KeyedItem.key`: an external id, a RAW row key, or a finer key such as one datapoint).
        reason: Why it failed, in words a person can act on.
        deferred: True when the item was held back and will be retried, rather than rejected.
        permanent: True when retrying cannot help: the item becomes a dead letter.
    """

    key: str
    reason: str
    deferred: bool = False
    permanent: bool = False

    def __post_init__(self) -> None:
        if self.deferred and self.permanent:
            raise ValueError(f"item failure {self.key!r} cannot be both deferred and permanent")


@dataclass(slots=True)
class WriteResult:
    """What one sink write did, item by item.

    External ids are listed (not only counted) so the pipeline can acknowledge exactly the records that landed.
    Memory stays O(batch) because a result covers one batch.

    Attributes:
        created: Keys of items created.
        updated: Keys of items updated.
        unchanged: Keys of items the sink found nothing to change in.
        failed: Items not written, with why (see `ItemFailure`).
        requests: Write requests made.
        datapoints: Datapoints acknowledged (datapoint sinks; 0 elsewhere).
    """

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[ItemFailure] = field(default_factory=list)
    requests: int = 0
    datapoints: int = 0

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
        self.datapoints += other.datapoints
        return self


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that failed validation or mapping, kept with everything needed to replay it.

    Its `key` is stable: the same record rejected again (a restart, a retry, a lookback, a backfill unit on another
    worker) has the same key, so every store keeps one letter per record.

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

    @property
    def key(self) -> str:
        """`{pcn}:{stream}:{digest}`, the digest over stream, PCN and payload (not the reason or the time)."""
        body = json.dumps([self.stream, self.pcn, self.payload], sort_keys=True, default=str)
        return f"{self.pcn}:{self.stream}:{hashlib.blake2b(body.encode(), digest_size=12).hexdigest()}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (one line of the JSONL dead-letter file)."""
        return {
            "key": self.key,
            "stream": self.stream,
            "pcn": self.pcn,
            "reason": self.reason,
            "error_type": self.error_type,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "payload": self.payload,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeadLetter:
        """Rebuild a letter from `to_json()` output.

        Raises:
            ValueError: When `data` is not such an object.
        """
        try:
            at = datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00"))
            return cls(
                stream=str(data["stream"]),
                pcn=str(data["pcn"]),
                reason=str(data["reason"]),
                payload=data.get("payload"),
                error_type=None if data.get("error_type") is None else str(data["error_type"]),
                at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a dead letter: {exc!r}") from exc
