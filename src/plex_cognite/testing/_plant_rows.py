"""Row generators of the simulated plant: every raw Plex row as a pure function of `(seed, pcn, index)`.

Only the small master lists (buildings, workcenters, statuses) are kept in memory; parts, jobs and history rows are
recomputed on demand. History rows are indexed in time order (`*_ms(index)` is non-decreasing), so a half-open
`[begin, end)` window is an index range found by bisection.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from plex_cognite.testing._plant_catalog import (
    BAD_DATES,
    BAD_NUMBERS,
    CLOSED_JOB_STATUSES,
    DAY_MS,
    EMPLOYEES,
    HISTORY_START_MS,
    JOB_BOUND_STATUSES,
    JOB_LEAD_MS,
    JOB_STATUSES,
    MALFORMED_KINDS,
    PART_NOUNS,
    PART_TYPES,
    PRIORITIES,
    REVISIONS,
    SCRAP_REASONS,
    STATUS_WEIGHTS,
    STATUSES,
    WC_TYPES,
    MutationLayer,
    building_row,
    location_code,
    status_row,
)
from plex_cognite.testing._plant_time import Kind, format_plex_ms, mix, plant_prefix, uuid_for, uuid_index

if TYPE_CHECKING:
    from plex_cognite.testing.plant import PlantSize

__all__ = ["HISTORY_START_MS", "MALFORMED_KINDS", "MutationLayer", "PlantRows", "Row"]

Row = dict[str, Any]


class PlantRows:
    """Computes raw rows; the engine behind `SimulatedPlant` (which documents the public behaviour)."""

    def __init__(self, seed: int, pcn: str, size: PlantSize, layers: tuple[MutationLayer, ...] = ()) -> None:
        self.seed = seed
        self.pcn = pcn
        self.size = size
        self.layers = layers
        self.prefix = plant_prefix(seed, pcn)
        self.salt = mix(self.prefix ^ (seed << 1))
        self.start_ms = HISTORY_START_MS
        self.end_ms = HISTORY_START_MS + size.history_days * DAY_MS
        self.tenant_id = uuid_for(self.prefix, Kind.TENANT, 0)
        self.buildings = [building_row(self.uuid(Kind.BUILDING, i), pcn, i) for i in range(size.buildings)]
        self.workcenters = [self._workcenter(i) for i in range(size.workcenters)]
        self.statuses = [status_row(self.uuid(Kind.STATUS, i), i) for i in range(len(STATUSES))]

    # ---- helpers ---------------------------------------------------------------------------------------------
    def h(self, kind: int, index: int) -> int:
        """The 64-bit hash of row `index` of `kind` in this plant."""
        return mix(self.salt ^ (kind << 48) ^ index)

    def uuid(self, kind: int, index: int) -> str:
        """The Plex id of row `index` of `kind`."""
        head = self._heads.get(kind)
        if head is None:
            head = self._heads[kind] = uuid_for(self.prefix, kind, 0)[:24]
        return f"{head}{index:012x}"

    @cached_property
    def _heads(self) -> dict[int, str]:
        return {}

    @cached_property
    def part_info(self) -> list[tuple[str, str, str, str]]:
        """Per part index: (id, number, revision, number-revision), for the hot history paths."""
        info = []
        for i in range(self.size.parts):
            revision = REVISIONS[(self.h(Kind.PART, i) >> 4) % len(REVISIONS)]
            number = f"{100000 + i}"
            info.append((self.uuid(Kind.PART, i), number, revision, self._number_revision(number, revision)))
        return info

    @cached_property
    def job_parts(self) -> array[int]:
        """Per job index: its part index, -1 for an unknown part."""
        return array("l", (self._part_index_of_job(i) for i in range(self.size.jobs)))

    @cached_property
    def _employee_ids(self) -> list[str]:
        return [self.uuid(Kind.EMPLOYEE, i) for i in range(len(EMPLOYEES))]

    def index_of(self, kind: int, plex_id: str, count: int) -> int | None:
        """The index of the row with that Plex id, or None when it is not one of this plant's `count` rows."""
        index = uuid_index(self.prefix, kind, plex_id)
        return index if index is not None and index < count else None

    def revisions(self, kind: int, index: int, plex_id: str) -> list[int]:
        """The revisions whose mutation touches this record, oldest first."""
        return [layer.revision for layer in self.layers if layer.touches(kind, index, plex_id)]

    def malformed_kind(self, stream: str, index: int) -> str | None:
        """The malformed kind of row `index` of `stream`, or None for a well-formed row.

        One row in `size.malformed_every` is malformed (those with `index % every == every // 2`), and the kinds
        rotate so every kind of the stream appears.
        """
        every = self.size.malformed_every
        if every <= 0 or index % every != every // 2:
            return None
        kinds = MALFORMED_KINDS[stream]
        return kinds[(index // every) % len(kinds)]

    def window(self, count: int, time_ms: Any, begin_us: int | None, end_us: int | None) -> range:
        """The index range of rows whose time is in `[begin, end)` (microseconds), by bisection."""
        lo = 0 if begin_us is None else bisect_left(range(count), begin_us, key=lambda i: time_ms(i) * 1000)
        hi = count if end_us is None else bisect_left(range(count), end_us, key=lambda i: time_ms(i) * 1000)
        return range(lo, max(lo, hi))

    def _span_time(self, count: int, index: int) -> int:
        return self.start_ms + (index * (self.end_ms - self.start_ms)) // max(count, 1)

    # ---- master data -----------------------------------------------------------------------------------------
    def _workcenter(self, i: int) -> Row:
        h = self.h(Kind.WORKCENTER, i)
        wc_type = WC_TYPES[h % len(WC_TYPES)]
        building = None if i % 5 == 4 or not self.buildings else self.buildings[(h >> 8) % len(self.buildings)]
        workcenter_id = self.uuid(Kind.WORKCENTER, i)
        name = f"{wc_type.title()} {101 + i}"
        for changed_in in self.revisions(Kind.WORKCENTER, i, workcenter_id):
            name = f"{name} (rev {changed_in})"
        return {
            "workcenterId": workcenter_id,
            "workcenterCode": f"{101 + i}",
            "name": name,
            "workcenterType": wc_type,
            "workcenterGroup": f"{wc_type}S",
            "buildingId": None if building is None else building["id"],
            "buildingCode": None if building is None else building["buildingCode"],
            "tankSilo": False,
            "productionLineId": None,
            "ipAddress": f"10.{(h >> 16) % 250}.{i // 250}.{i % 250}",
            "plcName": "" if i % 3 else f"PLC{101 + i}",
        }

    def part(self, i: int) -> Row:
        """Part `i` (0 <= i < size.parts)."""
        h = self.h(Kind.PART, i)
        part_id = self.uuid(Kind.PART, i)
        name = f"{PART_NOUNS[h % len(PART_NOUNS)]} {(h >> 8) % 90 + 10}mm"
        modified = self.start_ms - ((h >> 16) % 300) * DAY_MS
        for changed_in in self.revisions(Kind.PART, i, part_id):
            name = f"{name} (rev {changed_in})"
            modified = self.end_ms + changed_in * 3_600_000
        building = self.buildings[(h >> 24) % len(self.buildings)] if self.buildings else None
        return {
            "id": part_id,
            "number": f"{100000 + i}",
            "name": name,
            "revision": REVISIONS[(h >> 4) % len(REVISIONS)],
            "description": None if i % 6 == 5 else f"{name}, zinc plated",
            "type": PART_TYPES[(h >> 12) % len(PART_TYPES)],
            "group": "Fasteners" if h % 2 else "Machined",
            "source": "Purchased" if (h >> 12) % 3 == 1 else "Manufactured",
            "productType": "Production",
            "status": "Inactive" if i % 11 == 10 else "Active",
            "note": "" if i % 2 else None,
            "leadTimeDays": float((h >> 32) % 20),
            "buildingCode": None if building is None else building["buildingCode"],
            "createdById": self.uuid(Kind.USER, (h >> 40) % 5),
            "createdDate": format_plex_ms(modified - 400 * DAY_MS, i),
            "modifiedById": self.uuid(Kind.USER, (h >> 44) % 5),
            "modifiedDate": format_plex_ms(modified, i + 1),
        }

    def part_index_of_job(self, i: int) -> int:
        """The part index job `i` refers to, or -1 when it points at an unknown part (on purpose)."""
        return self.job_parts[i]

    def _part_index_of_job(self, i: int) -> int:
        every = self.size.unknown_part_every
        if (every > 0 and i % every == every // 3) or self.size.parts == 0:
            return -1
        return self.h(Kind.JOB, i) % self.size.parts

    def _part_fields(self, part_index: int, ref_index: int) -> tuple[str, str, str, str]:
        if part_index < 0:
            number = f"X{900000 + ref_index}"
            return self.uuid(Kind.UNKNOWN_PART, ref_index), number, "", number
        return self.part_info[part_index]

    @staticmethod
    def _number_revision(number: str, revision: str) -> str:
        return f"{number}-{revision}" if revision else number

    # ---- jobs ------------------------------------------------------------------------------------------------
    def job(self, i: int) -> Row:
        """Job `i` (0 <= i < size.jobs)."""
        h = self.h(Kind.JOB, i)
        job_id = self.uuid(Kind.JOB, i)
        part_id, number, revision, number_revision = self._part_fields(self.part_index_of_job(i), i)
        span = self.end_ms - self.start_ms + JOB_LEAD_MS
        created = self.start_ms - JOB_LEAD_MS + (i * span) // max(self.size.jobs, 1) + (h >> 40) % 1000
        status = JOB_STATUSES[h % len(JOB_STATUSES)]
        completed: int | None = created + (2 + (h >> 8) % 10) * DAY_MS if status in CLOSED_JOB_STATUSES else None
        quantity = float(50 * (1 + (h >> 12) % 20))
        done = quantity if completed is not None else float((h >> 20) % int(quantity))
        for changed_in in self.revisions(Kind.JOB, i, job_id):
            if completed is None:
                status, completed, done = "Complete", self.end_ms + changed_in * 3_600_000, quantity
            else:
                status = "Closed" if status != "Closed" else "Complete"
        building = None if i % 7 == 3 or not self.buildings else self.buildings[(h >> 28) % len(self.buildings)]
        row: Row = {
            "id": job_id,
            "externalJobCode": f"EXT-{i}" if i % 10 == 0 else None,
            "jobNumber": f"J-{i:06d}",
            "createdDate": format_plex_ms(created, i),
            "partId": part_id,
            "partNumber": number,
            "partRevision": revision,
            "partNumberRevision": number_revision,
            "dueDate": format_plex_ms(created + 14 * DAY_MS, i + 1),
            "completedDate": None if completed is None else format_plex_ms(completed, i + 2),
            "quantity": quantity,
            "quantityCompleted": done,
            "jobStatus": status,
            "buildingId": None if building is None else building["id"],
            "buildingCode": None if building is None else building["buildingCode"],
            "jobType": "Rework" if i % 13 == 12 else "Production",
            "earliestStartDateTime": None if i % 5 == 2 else format_plex_ms(created + DAY_MS, i + 3),
            "priority": PRIORITIES[(h >> 36) % len(PRIORITIES)],
        }
        kind = self.malformed_kind("jobs", i)
        if kind is not None:
            variant = i // max(self.size.malformed_every, 1)
            if kind == "invalid_datetime":
                row["createdDate"] = BAD_DATES[variant % len(BAD_DATES)]
            elif kind == "missing_field":
                del row["id"]
            else:
                row["quantity"] = BAD_NUMBERS[variant % len(BAD_NUMBERS)]
        return row

    def job_operations(self, i: int) -> list[Row]:
        """The operations of job `i`."""
        h = self.h(Kind.JOB_OPERATION, i)
        job = self.job(i)
        created = (
            self.start_ms - JOB_LEAD_MS + (i * (self.end_ms - self.start_ms + JOB_LEAD_MS)) // max(self.size.jobs, 1)
        )
        operations: list[Row] = []
        for k in range(1 + h % 3):
            workcenter = self.workcenters[((h >> 8) + k) % len(self.workcenters)] if self.workcenters else None
            operations.append(
                {
                    "jobId": self.uuid(Kind.JOB, i),
                    "jobNumber": job["jobNumber"],
                    "partId": job["partId"],
                    "partNumber": job["partNumber"],
                    "partRevision": job["partRevision"],
                    "partNumberRevision": job["partNumberRevision"],
                    "jobOperationId": self.uuid(Kind.JOB_OPERATION, i * 4 + k),
                    "jobOperationNumber": 10 * (k + 1),
                    "operationCode": ("Machining", "Deburr", "Inspect")[k],
                    "workcenterId": None if workcenter is None else workcenter["workcenterId"],
                    "workcenterCode": None if workcenter is None else workcenter["workcenterCode"],
                    "quantity": job["quantity"] if isinstance(job["quantity"], float) else 0.0,
                    "quantityCompleted": job["quantityCompleted"],
                    "dueDate": format_plex_ms(created + (10 + k) * DAY_MS, k),
                    "scheduledStartDate": format_plex_ms(created + (1 + k) * DAY_MS, k + 1),
                    "completedDate": job["completedDate"] if k == 0 else None,
                    "jobOperationStatus": "Complete" if job["completedDate"] and k == 0 else "Open",
                    "setupTime": 0.5,
                    "rate": 60.0,
                    "unitOfMeasure": "Pieces/Hour",
                    "runTime": round(((h >> 16) % 100) / 10.0, 1),
                    "batchCriteria": None,
                    "partOperationType": "Production",
                    "batchOperation": False,
                    "preProcessOperation": False,
                }
            )
        return operations

    # ---- history ---------------------------------------------------------------------------------------------
    def history_ms(self, kind: int, count: int, index: int) -> int:
        """The time of history row `index` (non-decreasing in `index`); twins share their predecessor's time."""
        every = self.size.same_ms_every
        if kind != Kind.STATUS_ENTRY and every > 0 and index % every == 1:
            index -= 1
        return self._span_time(count, index)

    def history_workcenter(self, kind: int, index: int, h: int | None = None) -> int:
        """The workcenter index of history row `index` (`h`: its hash); a twin uses its predecessor's workcenter."""
        n_wc = max(len(self.workcenters), 1)
        if kind == Kind.STATUS_ENTRY:
            return index % n_wc
        every = self.size.same_ms_every
        if every > 0 and index % every == 1:
            return self.h(kind, index - 1) % n_wc
        return (self.h(kind, index) if h is None else h) % n_wc

    def _history_common(self, kind: int, count: int, index: int, h: int) -> tuple[Row, tuple[str, str, str, str]]:
        workcenter = self.workcenters[self.history_workcenter(kind, index, h)]
        job_index = (h >> 20) % max(self.size.jobs, 1)
        part = self._part_fields(self.job_parts[job_index] if self.size.jobs else -1, job_index)
        return workcenter, part

    def _apply_malformed(self, stream: str, index: int, row: Row, date_field: str, number_field: str) -> Row:
        kind = self.malformed_kind(stream, index)
        if kind is None:
            return row
        variant = index // max(self.size.malformed_every, 1)
        if kind == "invalid_datetime":
            row[date_field] = BAD_DATES[variant % len(BAD_DATES)]
        elif kind == "missing_field":
            del row["workcenterId"]
        elif kind == "invalid_number":
            row[number_field] = BAD_NUMBERS[variant % len(BAD_NUMBERS)]
        else:
            row[number_field] = -abs(row[number_field]) - 1
        return row

    def production_entry(self, i: int) -> Row:
        """Production entry `i` in time order (the hot path of large plants, hence inlined)."""
        size = self.size
        count = size.production_entries
        every = size.same_ms_every
        base = i - 1 if every > 0 and i % every == 1 else i  # a twin takes its predecessor's time and workcenter
        salt = self.salt ^ (Kind.PRODUCTION << 48)
        h = mix(salt ^ i)
        workcenter = self.workcenters[(h if base == i else mix(salt ^ base)) % max(len(self.workcenters), 1)]
        job_index = (h >> 20) % max(size.jobs, 1)
        part_index = self.job_parts[job_index] if size.jobs else -1
        part_id, number, revision, number_revision = (
            self.part_info[part_index] if part_index >= 0 else self._part_fields(-1, job_index)
        )
        job_code = f"J-{job_index:06d}"
        employee = h % len(EMPLOYEES)
        heads = self._heads
        job_head = heads.get(Kind.JOB) or self.uuid(Kind.JOB, 0)[:24]
        op_head = heads.get(Kind.PART_OPERATION) or self.uuid(Kind.PART_OPERATION, 0)[:24]
        row: Row = {
            "transactionDate": format_plex_ms(self.start_ms + (base * (self.end_ms - self.start_ms)) // count, i),
            "workcenterId": workcenter["workcenterId"],
            "workcenterCode": workcenter["workcenterCode"],
            "serialNo": f"S{i:09d}",
            "lotNo": None,
            "employeeId": self._employee_ids[employee],
            "employeeName": EMPLOYEES[employee],
            # whole and half units: sums are exact in binary floating point, whatever the order
            "quantity": float((h >> 8) % 40 + 1) + (0.5 if (h >> 14) % 4 == 0 else 0.0),
            "jobId": f"{job_head}{job_index:012x}",
            "jobCode": job_code,
            "jobNo": job_code,
            "partId": part_id,
            "partNumber": number,
            "revision": revision,
            "partNumberRevision": number_revision,
            "partOperationId": f"{op_head}{job_index % 4096:012x}",
            "operationNumber": 10,
            "operationCode": "Machining",
            "masterUnitNo": None,
            "masterUnitId": None,
            "lotId": None,
            "heatCode": None,
            "heatNo": None,
            "heatId": None,
            "unit": "Ea",
            "trackingNo": None,
            "shelfDateTime": None,
            "manufacturedDateTime": None,
            "bestByDateTime": None,
            "useByDateTime": None,
            "sellByDateTime": None,
        }
        if size.malformed_every > 0 and i % size.malformed_every == size.malformed_every // 2:
            return self._apply_malformed("production", i, row, "transactionDate", "quantity")
        return row

    def scrap_entry(self, i: int) -> Row:
        """Scrap entry `i` in time order."""
        count = self.size.scrap_entries
        h = self.h(Kind.SCRAP, i)
        workcenter, (part_id, number, revision, number_revision) = self._history_common(Kind.SCRAP, count, i, h)
        job_index = (h >> 20) % max(self.size.jobs, 1)
        row: Row = {
            "transactionDate": format_plex_ms(self.history_ms(Kind.SCRAP, count, i), i + 1),
            "scrapReason": SCRAP_REASONS[h % len(SCRAP_REASONS)],
            "transactionType": "Control Panel Scrap" if h % 3 else "Scrap",
            "quantity": float((h >> 8) % 5 + 1),
            "workcenterId": workcenter["workcenterId"],
            "workcenterCode": workcenter["workcenterCode"],
            "jobId": self.uuid(Kind.JOB, job_index),
            "jobCode": f"J-{job_index:06d}",
            "partId": part_id,
            "partNumber": number,
            "revision": revision,
            "partNumberRevision": number_revision,
            "partOperationId": self.uuid(Kind.PART_OPERATION, job_index % 4096),
            "operationNumber": 10,
            "operationCode": "Machining",
            "serialNo": f"R{i:09d}",
        }
        return self._apply_malformed("scrap", i, row, "transactionDate", "quantity")

    def status_entry(self, i: int) -> Row:
        """Workcenter status entry `i` in time order (log dates strictly increase per workcenter)."""
        count = self.size.workcenter_status_entries
        n_wc = max(len(self.workcenters), 1)
        h = self.h(Kind.STATUS_ENTRY, i)
        log_ms = self.history_ms(Kind.STATUS_ENTRY, count, i)
        duration = (self._span_time(count, i + n_wc) - log_ms) // 1000
        status = STATUSES[STATUS_WEIGHTS[h % len(STATUS_WEIGHTS)]][0]
        workcenter, (part_id, number, revision, number_revision) = self._history_common(Kind.STATUS_ENTRY, count, i, h)
        job_index = (h >> 20) % max(self.size.jobs, 1)
        bound = status in JOB_BOUND_STATUSES
        row: Row = {
            "workcenterId": workcenter["workcenterId"],
            "workcenterCode": workcenter["workcenterCode"],
            "logDate": format_plex_ms(log_ms, i),
            "workcenterStatus": status,
            "jobId": self.uuid(Kind.JOB, job_index) if bound else None,
            "jobCode": f"J-{job_index:06d}" if bound else None,
            "partId": part_id if bound else None,
            "partNumber": number if bound else None,
            "revision": revision if bound else None,
            "partNumberRevision": number_revision if bound else None,
            "partOperationId": self.uuid(Kind.PART_OPERATION, job_index % 4096) if bound else None,
            "operationNumber": 10 if bound else None,
            "operationCode": "Machining" if bound else None,
            "duration": int(duration),
        }
        return self._apply_malformed("workcenter_status", i, row, "logDate", "duration")

    def container(self, i: int) -> Row:
        """Container `i` (active inventory)."""
        h = self.h(Kind.CONTAINER, i)
        # Awkward on purpose: a container of a part that does not exist, and containers holding nothing.
        unknown = self.size.parts == 0 or i % 17 == 5
        part_index = -1 if unknown else h % self.size.parts
        part_id, number, revision, number_revision = self._part_fields(part_index, i)
        added = self.end_ms - (h >> 16) % (self.end_ms - self.start_ms)
        location = h % max(self.size.locations, 1)
        return {
            "serialNo": f"C{self.prefix:08X}{i:07d}",
            "partId": part_id,
            "partNo": number,
            "revision": revision,
            "partNoRevision": number_revision,
            "partName": f"{PART_NOUNS[(h >> 4) % len(PART_NOUNS)]}",
            "partOperationId": self.uuid(Kind.PART_OPERATION, part_index % 4096),
            "operationNo": 10,
            "operationCode": "Machining",
            "containerStatus": "OK" if h % 9 else "Hold",
            "locationId": self.uuid(Kind.LOCATION, location),
            "location": location_code(location),
            "quantity": 0.0 if i % 10 == 3 else float((h >> 8) % 100 + 1),
            "quantityInventoryUnit": "Ea",
            "grossWeight": 0.0,
            "netWeight": 0.0,
            "tareWeight": 0.0,
            "containerType": "Tote" if h % 2 else "Skid",
            "trackingNo": None,
            "addDateTime": format_plex_ms(added, i),
            "updateDateTime": format_plex_ms(added, i),
            "containerShelfDateTime": None,
            "masterUnitId": None,
            "masterUnitNo": None,
            "lotId": None,
            "lotNo": None,
            "heatId": None,
            "heatCode": None,
            "heatNo": None,
            "eun": None,
            "inventoryType": "WIP" if h % 4 else "Finished Goods",
        }

    def iterate(self, make: Any, indices: range) -> Iterator[Row]:
        """Rows `make(i)` for `i` in `indices`, lazily."""
        for i in indices:
            yield make(i)
