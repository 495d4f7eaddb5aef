"""A deterministic simulated Plex plant: raw Connect rows at any scale, and the CDF content they should become.

`SimulatedPlant(seed, pcn, size)` yields the rows the Plex Connect API would send (real field names, Plex date
strings, nulls where Plex sends them) for buildings, workcenters, parts, jobs, job operations, production, scrap and
workcenter-status history, workcenter statuses, containers, inventory locations and container location moves, and
the rows of a simulated `Checksheets_Get` data source. Rows are computed from `(seed, pcn, index)` on demand,
so a plant with 200k jobs and 1M production entries costs almost no memory until you iterate it, and history rows
are in time order, so `production_entries(begin, end)` finds a window by bisection.

Awkward cases, on purpose and enumerable:

- production (and scrap) entries sharing a millisecond on one workcenter (`twin_rows`), which must be summed;
- nulls: open jobs (`completedDate` null), jobs and workcenters without `buildingId`, jobs without
  `earliestStartDateTime`, a building without a `name`, parts without `description`;
- jobs pointing at parts that do not exist (`unknown_part_job_ids`);
- malformed rows (`malformed_rows`): unparsable dates, a missing key field, non-numeric or negative numbers;
- customer-defined workcenter status names (`"Setup - Changeover"`, `"Quality Hold (QA)"`, ...);
- several PCNs: different `(seed, pcn)` give disjoint ids;
- inventory: a location without a building and one naming an unknown building, containers of an unknown part and
  with zero quantity, malformed container moves, a checksheet day past the data source's row limit (see
  `_plant_inventory`).

`expected_cdf(...)` applies the default mapping (`docs/mapping.md`, spelled out in `_plant_expected`) and returns the
exact CDF content a full extraction must produce, plus the expected dead letters. `mutate(...)` returns a changed
version of the plant for change-detection tests, `mutate_inventory(...)` one whose containers were consumed or
changed quantity.

Example:
    >>> plant = SimulatedPlant(seed=1, pcn="340884", size="small")
    >>> rows = list(plant.production_entries(plant.start, plant.end))
    >>> expected = plant.expected_cdf()
    >>> len(expected.assets) > 0
    True
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from plex_cognite.testing._plant_expected import (
    ALL_STREAMS,
    ExpectedAsset,
    ExpectedCdf,
    ExpectedDeadLetter,
    ExpectedEvent,
    ExpectedTimeSeries,
    build_expected,
    dead_letter_reason,
)
from plex_cognite.testing._plant_expected_inventory import (
    CHECKSHEETS_SOURCE,
    CHECKSHEETS_STREAM,
    INVENTORY_STREAMS,
    expected_on_hand,
    on_hand_changes,
)
from plex_cognite.testing._plant_inventory import InventoryRows
from plex_cognite.testing._plant_nodes import ExpectedGraph, ExpectedNode, build_expected_graph
from plex_cognite.testing._plant_rows import MutationLayer, PlantRows, Row
from plex_cognite.testing._plant_time import Kind, format_plex_ms, from_ms, mix, parse_plex_datetime, to_us

__all__ = [
    "CHECKSHEETS_SOURCE",
    "CHECKSHEETS_STREAM",
    "INVENTORY_STREAMS",
    "ExpectedAsset",
    "ExpectedCdf",
    "ExpectedDeadLetter",
    "ExpectedEvent",
    "ExpectedGraph",
    "ExpectedNode",
    "ExpectedTimeSeries",
    "MalformedRow",
    "PlantSize",
    "SimulatedPlant",
    "dead_letter_reason",
    "expected_on_hand",
    "format_plex_ms",
    "on_hand_changes",
    "parse_plex_datetime",
]

HistoryStream = Literal["production", "scrap", "workcenter_status"]


@dataclass(frozen=True)
class PlantSize:
    """How big a simulated plant is, and how often the awkward cases occur.

    Attributes:
        buildings: Number of buildings.
        workcenters: Number of workcenters.
        parts: Number of parts.
        jobs: Number of jobs.
        production_entries: Production entries over the whole history.
        scrap_entries: Scrap entries over the whole history.
        workcenter_status_entries: Workcenter status log entries over the whole history.
        containers: Active containers.
        locations: Inventory locations.
        container_moves: Container location moves over the whole history.
        checksheets: Checksheet rows (the simulated `Checksheets_Get` data source) spread over the history.
        checksheet_burst: Extra checksheet rows on one busy day (more than the data source's read row limit).
        history_days: Length of the history, from 2025-01-06T00:00:00Z.
        malformed_every: One row in this many of jobs and each history stream is malformed (0: none).
        same_ms_every: One production/scrap entry in this many shares its predecessor's millisecond and workcenter
            (0: none).
        unknown_part_every: One job in this many points at a part that does not exist (0: none).
    """

    buildings: int = 3
    workcenters: int = 12
    parts: int = 40
    jobs: int = 200
    production_entries: int = 2_000
    scrap_entries: int = 200
    workcenter_status_entries: int = 600
    containers: int = 50
    locations: int = 12
    container_moves: int = 300
    checksheets: int = 300
    checksheet_burst: int = 250
    history_days: int = 7
    malformed_every: int = 47
    same_ms_every: int = 50
    unknown_part_every: int = 53

    @classmethod
    def named(cls, name: str) -> PlantSize:
        """The preset `small` (a dozen workcenters), `medium` or `large` (200k jobs, 1M production entries).

        Raises:
            ValueError: for any other name.
        """
        presets = {
            "small": cls(),
            "medium": cls(
                buildings=4,
                workcenters=60,
                parts=2_000,
                jobs=20_000,
                production_entries=100_000,
                scrap_entries=10_000,
                workcenter_status_entries=20_000,
                containers=2_000,
                history_days=30,
            ),
            "large": cls(
                buildings=10,
                workcenters=200,
                parts=20_000,
                jobs=200_000,
                production_entries=1_000_000,
                scrap_entries=50_000,
                workcenter_status_entries=100_000,
                containers=10_000,
                history_days=90,
                malformed_every=997,
                same_ms_every=101,
                unknown_part_every=211,
            ),
        }
        if name not in presets:
            raise ValueError(f"unknown plant size {name!r}: use one of {sorted(presets)} or a PlantSize(...)")
        return presets[name]


@dataclass(frozen=True)
class MalformedRow:
    """A row generated malformed on purpose: which stream, its index in that stream, the kind, and the row."""

    stream: str
    index: int
    kind: str
    row: Row


_HISTORY_KINDS: dict[str, int] = {
    "production": Kind.PRODUCTION,
    "scrap": Kind.SCRAP,
    "workcenter_status": Kind.STATUS_ENTRY,
}


class SimulatedPlant:
    """Deterministic raw Plex data for one PCN (see the module docstring for the awkward cases).

    Args:
        seed: Any integer; the same `(seed, pcn, size)` always gives the same rows.
        pcn: The PCN (digits, as configured).
        size: A preset name (`small`, `medium`, `large`) or a `PlantSize`.

    Attributes:
        seed: The seed.
        pcn: The PCN.
        size: The resolved `PlantSize`.
        revision: 0 for a fresh plant, +1 per `mutate`.
        tenant_id: The tenant UUID (for `X-Plex-Connect-Tenant-Id`).
        tenant_code: The tenant's company code.
    """

    def __init__(
        self,
        seed: int = 0,
        pcn: str = "340884",
        size: Literal["small", "medium", "large"] | PlantSize = "small",
        *,
        _layers: tuple[MutationLayer, ...] = (),
    ) -> None:
        if not pcn.isdigit():
            raise ValueError(f"pcn {pcn!r} must be digits only (a Plex Customer Number)")
        self.seed = seed
        self.pcn = pcn
        self.size = PlantSize.named(size) if isinstance(size, str) else size
        self.revision = len(_layers)
        self._rows = PlantRows(seed, pcn, self.size, _layers)
        self._inventory = InventoryRows(self._rows)
        self.tenant_id = self._rows.tenant_id
        self.tenant_code = f"plant-{pcn}"

    def __repr__(self) -> str:
        return f"SimulatedPlant(seed={self.seed}, pcn={self.pcn!r}, size={self.size!r}, revision={self.revision})"

    @property
    def start(self) -> datetime:
        """The start of the plant's history (inclusive, aware UTC)."""
        return from_ms(self._rows.start_ms)

    @property
    def end(self) -> datetime:
        """The end of the plant's history (exclusive, aware UTC)."""
        return from_ms(self._rows.end_ms)

    # ---- snapshot resources ----------------------------------------------------------------------------------
    def tenant(self) -> Row:
        """The `/mdm/v1/tenants` object of this plant."""
        return {"id": self.tenant_id, "code": self.tenant_code}

    def buildings(self) -> list[Row]:
        """All buildings (`/mdm/v1/buildings`)."""
        return [dict(row) for row in self._rows.buildings]

    def workcenters(self) -> list[Row]:
        """All workcenters (`/production/v1/production-definitions/workcenters`, key `workcenterId`)."""
        return [dict(row) for row in self._rows.workcenters]

    def workcenter(self, workcenter_id: str) -> Row | None:
        """One workcenter by `workcenterId`, or None."""
        index = self._rows.index_of(Kind.WORKCENTER, workcenter_id, self.size.workcenters)
        return None if index is None else dict(self._rows.workcenters[index])

    def workcenter_statuses(self) -> list[Row]:
        """The customer-defined workcenter status definitions (`.../workcenter-statuses`)."""
        return [dict(row) for row in self._rows.statuses]

    def parts(self) -> Iterator[Row]:
        """All parts (`/mdm/v1/parts`), lazily."""
        return self._rows.iterate(self._rows.part, range(self.size.parts))

    def part(self, part_id: str) -> Row | None:
        """One part by id, or None."""
        index = self._rows.index_of(Kind.PART, part_id, self.size.parts)
        return None if index is None else self._rows.part(index)

    def part_by_number(self, number: str) -> Row | None:
        """One part by its part `number`, or None."""
        index = int(number) - 100000 if number.isdigit() else -1
        return self._rows.part(index) if 0 <= index < self.size.parts else None

    def jobs(self) -> Iterator[Row]:
        """All jobs (`/scheduling/v1/jobs`), lazily."""
        return self._rows.iterate(self._rows.job, range(self.size.jobs))

    def job(self, job_id: str) -> Row | None:
        """One job by id, or None (also None for the malformed job that lacks its `id`)."""
        index = self._rows.index_of(Kind.JOB, job_id, self.size.jobs)
        if index is None:
            return None
        row = self._rows.job(index)
        return row if "id" in row else None

    def job_operations(self, job_id: str) -> list[Row] | None:
        """The operations of a job (`/scheduling/v1/jobs/{id}/operations`), or None when the job does not exist."""
        index = self._rows.index_of(Kind.JOB, job_id, self.size.jobs)
        return None if index is None else self._rows.job_operations(index)

    def containers(self) -> Iterator[Row]:
        """Active containers (`/inventory/v1/inventory-tracking/containers`), lazily, after `mutate_inventory`."""
        return self._inventory.containers()

    def locations(self) -> list[Row]:
        """Inventory locations (`/inventory/v1/inventory-definitions/locations`, key `locationId`)."""
        return self._inventory.locations()

    def container_moves(self, begin: datetime | None = None, end: datetime | None = None) -> Iterator[Row]:
        """Container location moves whose (true) `adjustmentDate` is in `[begin, end)`, in time order."""
        return self._inventory.moves(None if begin is None else to_us(begin), None if end is None else to_us(end))

    def checksheets(self, begin: datetime, end: datetime) -> list[dict[str, object]]:
        """Rows of the simulated `Checksheets_Get` data source with `Checksheet_Date` in `[begin, end)`."""
        return self._inventory.checksheets(to_us(begin) // 1000, to_us(end) // 1000)

    # ---- history ---------------------------------------------------------------------------------------------
    def _history(self, stream: str, begin: datetime | None, end: datetime | None) -> Iterator[Row]:
        kind = _HISTORY_KINDS[stream]
        count = self.history_count(stream)
        make = {
            "production": self._rows.production_entry,
            "scrap": self._rows.scrap_entry,
            "workcenter_status": self._rows.status_entry,
        }[stream]
        indices = self._rows.window(
            count,
            lambda i: self._rows.history_ms(kind, count, i),
            None if begin is None else to_us(begin),
            None if end is None else to_us(end),
        )
        return self._rows.iterate(make, indices)

    def history_count(self, stream: str) -> int:
        """How many rows `stream` (`production`, `scrap`, `workcenter_status`) has over the whole history."""
        return {
            "production": self.size.production_entries,
            "scrap": self.size.scrap_entries,
            "workcenter_status": self.size.workcenter_status_entries,
        }[stream]

    def production_entries(self, begin: datetime | None = None, end: datetime | None = None) -> Iterator[Row]:
        """Production entries whose (true) `transactionDate` is in `[begin, end)`, in time order.

        None for either bound means open-ended. A malformed row is placed by the time it would have had.
        """
        return self._history("production", begin, end)

    def scrap_entries(self, begin: datetime | None = None, end: datetime | None = None) -> Iterator[Row]:
        """Scrap entries whose `transactionDate` is in `[begin, end)`, in time order."""
        return self._history("scrap", begin, end)

    def workcenter_status_entries(self, begin: datetime | None = None, end: datetime | None = None) -> Iterator[Row]:
        """Workcenter status entries whose `logDate` is in `[begin, end)`, in time order."""
        return self._history("workcenter_status", begin, end)

    # ---- the awkward cases, enumerated -----------------------------------------------------------------------
    def malformed_rows(self, stream: str) -> list[MalformedRow]:
        """Every row of `stream` (`jobs` or a history stream) that is malformed on purpose, with its kind."""
        count = self.size.jobs if stream == "jobs" else self.history_count(stream)
        every = self.size.malformed_every
        make = {
            "jobs": self._rows.job,
            "production": self._rows.production_entry,
            "scrap": self._rows.scrap_entry,
            "workcenter_status": self._rows.status_entry,
        }[stream]
        if every <= 0:
            return []
        return [
            MalformedRow(stream, i, kind, make(i))
            for i in range(every // 2, count, every)
            if (kind := self._rows.malformed_kind(stream, i)) is not None
        ]

    def twin_rows(self, stream: Literal["production", "scrap"]) -> list[tuple[Row, Row]]:
        """Pairs of entries that share a millisecond and a workcenter (the second is a twin of the first)."""
        every = self.size.same_ms_every
        make = self._rows.production_entry if stream == "production" else self._rows.scrap_entry
        if every <= 0:
            return []
        return [(make(i - 1), make(i)) for i in range(1, self.history_count(stream), every)]

    def unknown_part_job_ids(self) -> list[str]:
        """Ids of the jobs whose `partId` refers to no part of this plant."""
        return [self._rows.uuid(Kind.JOB, i) for i in range(self.size.jobs) if self._rows.part_index_of_job(i) < 0]

    # ---- expectations and versions ---------------------------------------------------------------------------
    def expected_cdf(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        streams: Sequence[str] = ALL_STREAMS,
        on_missing_asset: Literal["defer", "skip_link"] = "defer",
    ) -> ExpectedCdf:
        """The exact CDF content a full extraction of this plant produces under the default mapping.

        Args:
            start: Start of the extracted history window (inclusive); default `self.start`.
            end: End of the window (exclusive); default `self.end`.
            streams: The streams extracted (`master_data`, `jobs`, `production`, `scrap`, `workcenter_status`, and
                the opt-in `INVENTORY_STREAMS`: `inventory`, `container_moves`, `datasource:checksheets`).
            on_missing_asset: `defer` (events linking a missing asset are held back: in `deferred`, not `events`)
                or `skip_link` (written without that link).

        Returns:
            The expectation; compare it with `ExpectedCdf.mismatches`.
        """
        return build_expected(self, start or self.start, end or self.end, streams, on_missing_asset)

    def expected_nodes(
        self, start: datetime | None = None, end: datetime | None = None, *, streams: Sequence[str] = ALL_STREAMS
    ) -> ExpectedGraph:
        """The Core Data Model node graph a full extraction of this plant writes with `cdf.sink: datamodeling`.

        Node external ids are the classic ones; a job whose part is unknown lands with its relation, and the part's
        node exists empty (`ExpectedGraph.empty_nodes`), instead of being deferred as in the classic sink.

        Args:
            start: Start of the extracted history window (inclusive); default `self.start`.
            end: End of the window (exclusive); default `self.end`.
            streams: The streams extracted.

        Returns:
            The expectation; compare it with `ExpectedGraph.mismatches`.
        """
        return build_expected_graph(self, start or self.start, end or self.end, streams)

    def mutate(
        self, fraction: float = 0.05, *, ids: Collection[str] | None = None, seed: int | None = None
    ) -> SimulatedPlant:
        """A new revision of this plant with some parts, workcenters and jobs changed (this plant is unchanged).

        A changed part gets a new `name` and `modifiedDate`; a changed workcenter a new `name`; a changed job a new
        `jobStatus` (an open job is completed, with `completedDate` set). Other records are identical.

        Args:
            fraction: The share of parts, workcenters and jobs to change, chosen by hash (ignored with `ids`).
            ids: Exactly these Plex ids (part ids, `workcenterId`s, job ids) change instead.
            seed: Salt for choosing the fraction; default derives from the plant seed and the new revision.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], got {fraction}")
        revision = self.revision + 1
        salt = mix((seed if seed is not None else self.seed) ^ (revision << 40) ^ Kind.MUTATION)
        layer = MutationLayer(revision, salt, fraction, None if ids is None else frozenset(ids))
        return SimulatedPlant(self.seed, self.pcn, self.size, _layers=(*self._rows.layers, layer))

    def mutate_inventory(
        self,
        *,
        consume: Collection[str] = (),
        quantities: Mapping[str, float] | None = None,
        fraction: float = 0.0,
    ) -> SimulatedPlant:
        """A new revision of this plant whose active containers changed (this plant is unchanged).

        Args:
            consume: Serial numbers of containers that are consumed (shipped, used up): they leave the snapshot.
            quantities: `serialNo -> new quantity` for containers whose quantity changes.
            fraction: Also consume this share of the remaining containers, chosen by hash (deterministic).

        Raises:
            ValueError: A serial number is not one of the plant's active containers, or `fraction` is outside [0, 1].
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], got {fraction}")
        active = {row["serialNo"] for row in self.containers()}
        unknown = sorted((set(consume) | set(quantities or {})) - active)
        if unknown:
            raise ValueError(f"not active containers of this plant: {', '.join(unknown[:5])}")
        revision = self.revision + 1
        salt = mix(self.seed ^ (revision << 40) ^ Kind.CONTAINER)
        chosen = {serial for serial in active if mix(salt ^ zlib.crc32(serial.encode())) < fraction * 2.0**64}
        layer = MutationLayer(
            revision,
            salt,
            0.0,
            frozenset(),
            consumed=frozenset(consume) | frozenset(chosen),
            quantities=tuple(sorted((quantities or {}).items())),
        )
        return SimulatedPlant(self.seed, self.pcn, self.size, _layers=(*self._rows.layers, layer))

    def mutated_ids(self) -> frozenset[str]:
        """The Plex ids (parts, workcenters, jobs) the latest `mutate` changed; empty for revision 0."""
        if not self._rows.layers:
            return frozenset()
        layer = self._rows.layers[-1]
        changed: set[str] = set()
        for kind, count in ((Kind.PART, self.size.parts), (Kind.WORKCENTER, self.size.workcenters)):
            changed.update(plex_id for i in range(count) if layer.touches(kind, i, plex_id := self._rows.uuid(kind, i)))
        changed.update(
            plex_id
            for i in range(self.size.jobs)
            if layer.touches(Kind.JOB, i, plex_id := self._rows.uuid(Kind.JOB, i))
            and self._rows.malformed_kind("jobs", i) != "missing_field"
        )
        return frozenset(changed)

    def with_size(self, **changes: int) -> SimulatedPlant:
        """The same plant with some `PlantSize` fields changed (for example `malformed_every=0`)."""
        return SimulatedPlant(self.seed, self.pcn, dataclasses.replace(self.size, **changes), _layers=self._rows.layers)
