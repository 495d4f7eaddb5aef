"""The request log the loopback fakes keep: one record per served request, with per-endpoint counts."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

__all__ = ["RequestLog", "RequestRecord"]


@dataclass(frozen=True)
class RequestRecord:
    """One served request in the `RequestLog`.

    Attributes:
        method: HTTP method.
        path: the path as the fake keys it (for FakeCDF: after `/api/v1/projects/{project}`).
        status: the status answered; 0 when the connection was dropped.
        items: item count reported by the handler, or None.
        fault: kind of the injected fault that decided the answer, or None.
        duration_s: time from the request being read to the answer being ready (including injected latency).
        request_id: the `x-request-id` sent back.
        query: the query parameters sent, each name mapped to all its values (to check requests against an API
            description).
    """

    method: str
    path: str
    status: int
    items: int | None = None
    fault: str | None = None
    duration_s: float = 0.0
    request_id: str = ""
    query: Mapping[str, list[str]] = field(default_factory=dict)


class RequestLog:
    """Thread-safe log of served requests with per-endpoint counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        """Add one record."""
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[RequestRecord]:
        """A copy of all records, oldest first."""
        with self._lock:
            return list(self._records)

    def count(self, method: str | None = None, path: str | re.Pattern[str] | None = None) -> int:
        """Count requests by method and path (a string matches exactly, a compiled pattern with `fullmatch`)."""
        return sum(1 for record in self.records if _record_matches(record, method, path))

    def counter(self) -> Counter[str]:
        """Requests per endpoint, keyed like `"POST /events"`."""
        return Counter(f"{record.method} {record.path}" for record in self.records)

    def reset(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.records)


def _record_matches(record: RequestRecord, method: str | None, path: str | re.Pattern[str] | None) -> bool:
    if method is not None and record.method != method.upper():
        return False
    if path is None:
        return True
    if isinstance(path, str):
        return record.path == path
    return path.fullmatch(record.path) is not None
