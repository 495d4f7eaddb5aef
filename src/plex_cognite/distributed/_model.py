"""The value types of scale-out: `WorkUnit` (what to do), `UnitResult` and `BackfillReport` (what happened).

They live apart from `distributed.py` so the ledger and the unit runner can use them without import cycles; users
import them from `plex_cognite.distributed` (or `plex_cognite`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from plex_cognite.core._iso import format_utc, parse_utc
from plex_cognite.errors import PlexCogniteError
from plex_cognite.typing import JSONValue, TimeWindow

__all__ = ["SNAPSHOT_STREAMS", "WINDOWED_STREAMS", "BackfillReport", "UnitResult", "UnitStatus", "WorkUnit"]

#: Streams read in half-open time windows of history: these are what backfill units partition.
WINDOWED_STREAMS: tuple[str, ...] = ("production", "scrap", "workcenter_status")
#: Streams read whole on every run (no time axis to split): they run through the normal runner, before a backfill.
SNAPSHOT_STREAMS: tuple[str, ...] = ("master_data", "jobs")

#: `done`: written and recorded complete. `skipped`: already recorded complete when the worker got it.
#: `failed`: not complete (see `error`); running the plan again retries it.
UnitStatus = Literal["done", "skipped", "failed"]


def _compact(moment: datetime) -> str:
    text = moment.strftime("%Y%m%dT%H%M%S")
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"


def _parse_bound(text: object, name: str) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"work unit {name} must be an ISO 8601 string, got {text!r}")
    try:
        return parse_utc(text)
    except ValueError as error:
        raise ValueError(f"work unit {name}: {error}") from None


@dataclass(frozen=True, slots=True, order=True)
class WorkUnit:
    """One PCN x one windowed stream x one half-open time window `[start, end)`: the unit of backfill work.

    Units are plain values: picklable (for executors), JSON round-trippable (`to_json` / `from_json`, for Airflow
    XCom, Kubernetes job arguments, queues), ordered, and identified by a deterministic `id`.

    Attributes:
        pcn: The Plex Customer Number.
        stream: A windowed stream: `production`, `scrap` or `workcenter_status`.
        start: Window start, inclusive (aware; stored in UTC).
        end: Window end, exclusive (aware; stored in UTC).

    Raises:
        ValueError: A bound is naive, `start >= end`, or `pcn` / `stream` is empty.

    Example:
        >>> from datetime import datetime, UTC
        >>> unit = WorkUnit("340884", "production", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 8, tzinfo=UTC))
        >>> unit.id
        '340884:production:20250101T000000Z:20250108T000000Z'
        >>> WorkUnit.from_json(unit.to_json()) == unit
        True
    """

    pcn: str
    stream: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not self.pcn or not self.stream:
            raise ValueError(f"a work unit needs a PCN and a stream, got {self.pcn!r} / {self.stream!r}")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"work unit bounds must be timezone-aware (UTC): {self.start!r}, {self.end!r}")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))
        if self.start >= self.end:
            raise ValueError(f"work unit window is empty: [{format_utc(self.start)}, {format_utc(self.end)})")

    @property
    def id(self) -> str:
        """`{pcn}:{stream}:{start}:{end}` with compact UTC times: the same unit always has the same id."""
        return f"{self.pcn}:{self.stream}:{_compact(self.start)}:{_compact(self.end)}"

    @property
    def window(self) -> TimeWindow:
        """`(start, end)`."""
        return (self.start, self.end)

    def to_json(self) -> dict[str, str]:
        """A JSON object: `id`, `pcn`, `stream`, `start`, `end` (ISO 8601, `Z`)."""
        return {
            "id": self.id,
            "pcn": self.pcn,
            "stream": self.stream,
            "start": format_utc(self.start),
            "end": format_utc(self.end),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> WorkUnit:
        """Rebuild a unit from `to_json()` output (`id` is optional, checked when present).

        Raises:
            ValueError: A field is missing or malformed, or `id` does not match the other fields.
        """
        pcn, stream = data.get("pcn"), data.get("stream")
        if not isinstance(pcn, str) or not isinstance(stream, str):
            raise ValueError(f"a work unit needs string 'pcn' and 'stream' fields, got {dict(data)!r}")
        unit = cls(pcn, stream, _parse_bound(data.get("start"), "start"), _parse_bound(data.get("end"), "end"))
        claimed = data.get("id")
        if claimed is not None and claimed != unit.id:
            raise ValueError(f"work unit id {claimed!r} does not match its fields (expected {unit.id!r})")
        return unit


@dataclass(slots=True)
class UnitResult:
    """What running one `WorkUnit` did.

    Attributes:
        unit: The unit.
        status: `done`, `skipped` (already complete) or `failed`.
        read: Records read from Plex.
        written: Items created or updated in CDF.
        unchanged: Items that needed no write.
        deferred: Items held back because an asset they link to does not exist (kept in the completion record).
        dead_lettered: Records rejected as malformed.
        requests: CDF write requests.
        duration_s: Wall time in the worker.
        error: One line saying why the unit failed, or None.
    """

    unit: WorkUnit
    status: UnitStatus = "failed"
    read: int = 0
    written: int = 0
    unchanged: int = 0
    deferred: int = 0
    dead_lettered: int = 0
    requests: int = 0
    duration_s: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True for `done` and `skipped`."""
        return self.status != "failed"

    def as_dict(self) -> dict[str, JSONValue]:
        """A plain JSON-ready dict (the unit as `to_json()`)."""
        data: dict[str, JSONValue] = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "unit"
        }
        data["unit"] = dict(self.unit.to_json())
        return data


@dataclass
class BackfillReport:
    """The results of `run_backfill`, one per unit, in plan order.

    Attributes:
        results: One `UnitResult` per unit.
        duration_s: Wall time of the whole backfill.
    """

    results: list[UnitResult] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no unit failed."""
        return all(result.ok for result in self.results)

    def by_status(self, status: UnitStatus) -> list[UnitResult]:
        """The results with that status."""
        return [result for result in self.results if result.status == status]

    @property
    def failed(self) -> list[UnitResult]:
        """The failed units (run the plan again to retry exactly these)."""
        return self.by_status("failed")

    @property
    def errors(self) -> list[str]:
        """One line per failed unit."""
        return [f"{r.unit.id}: {r.error}" for r in self.failed]

    def total(self, name: str) -> int:
        """The sum of one counter (`read`, `written`, `requests`, ...) over all units."""
        return sum(int(getattr(result, name)) for result in self.results)

    def format_table(self) -> str:
        """A fixed-width table for terminals and logs."""
        columns = ("read", "written", "deferred", "dead_lettered", "requests")
        header = f"{'unit':<58} " + " ".join(f"{c:>13}" for c in columns) + f" {'seconds':>8}  status"
        lines = [header, "-" * len(header)]
        for r in self.results:
            counts = " ".join(f"{getattr(r, c):>13}" for c in columns)
            status = r.status if r.ok else f"FAILED: {r.error}"
            lines.append(f"{r.unit.id:<58} {counts} {r.duration_s:>8.2f}  {status}")
        totals = " ".join(f"{self.total(c):>13}" for c in columns)
        lines.append("-" * len(header))
        summary = ", ".join(f"{len(self.by_status(s))} {s}" for s in ("done", "skipped", "failed"))
        lines.append(f"{'total (' + summary + ')':<58} {totals} {self.duration_s:>8.2f}")
        return "\n".join(lines)

    def raise_for_errors(self) -> None:
        """Raise `PlexCogniteError` naming the failed units, if any failed.

        Raises:
            PlexCogniteError: At least one unit failed.
        """
        if not self.ok:
            raise PlexCogniteError(f"{len(self.failed)} backfill unit(s) failed: " + "; ".join(self.errors[:10]))
