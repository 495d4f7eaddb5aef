"""The default CDF mapping (`docs/mapping.md`) as the simulated plant's oracle: raw Plex rows -> expected CDF content.

This module is the one place that states, for end-to-end tests, what a full extraction must produce. The rules:

External ids (`{pcn}` as configured, `{id}` the Plex key as sent):
    plant `PCN{pcn}_PLANT`; building `PCN{pcn}_BLDG_{id}`; workcenter `PCN{pcn}_WC_{workcenterId}`;
    parts catalog `PCN{pcn}_PARTS`; part `PCN{pcn}_PART_{id}`; job event `PCN{pcn}_JOB_{id}`;
    status event `PCN{pcn}_WCS_{workcenterId}_{logDate epoch ms}`; time series
    `PCN{pcn}_WC_{workcenterId}_PRODUCED_QTY` and `PCN{pcn}_WC_{workcenterId}_SCRAP_QTY`.

Assets (compared fields: external id, name, parent external id, description):
    plant: name `PCN {pcn}`, no parent, no description. Building: name `buildingCode`, description `name`, parent plant.
    Workcenter: name `workcenterCode`, description `name`, parent its building (when `buildingId` is set), else plant.
    Parts catalog: name `Parts`, parent plant. Part: name `{number}-{revision}` (just `number` when the revision is
    empty), description the part's `name`, parent the parts catalog.

Events (compared fields: external id, type, subtype, startTime, endTime, linked asset external ids):
    job: type `job`, subtype `jobStatus`, start `earliestStartDateTime` else `createdDate`, end `completedDate`
    (None for open jobs), assets the part (when `partId` is set) and the building (when `buildingId` is set).
    Status entry: type `workcenter_status`, subtype `workcenterStatus`, start `logDate`, end `logDate + duration` s,
    assets the workcenter and the part (when `partId` is set). Jobs are a snapshot (all of them); status entries are
    those whose `logDate` is in the extraction window `[start, end)`.

Time series (compared fields: external id, asset external id): two per workcenter in master data, PRODUCED_QTY when
the `production` stream runs and SCRAP_QTY when `scrap` runs, each linked to its workcenter.

Datapoints: for each valid production (scrap) entry whose `transactionDate` is in `[start, end)`, its `quantity` is
added at `(series, transactionDate epoch ms)`: entries that share a millisecond on one workcenter are summed.

Dead letters (by stream and reason kind; see `dead_letter_reason`): a row is rejected, and maps to nothing, when a
key field is missing (`missing_field`), a date-time is not in Plex's format or not a real date (`invalid_datetime`),
a number field is not a number (`invalid_number`) or a quantity/duration is negative (`negative_number`).

Missing assets: an event linking an asset that is not among the expected assets (a job pointing at an unknown part)
is, under `on_missing_asset="defer"`, absent from `events` and listed in `deferred`; under `"skip_link"` it is
present without that link.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from plex_cognite.testing._expected_items import ExpectedAsset, ExpectedDeadLetter, ExpectedEvent, ExpectedTimeSeries
from plex_cognite.testing._plant_expected_inventory import add_inventory
from plex_cognite.testing._plant_time import parse_plex_datetime, to_ms

if TYPE_CHECKING:
    from plex_cognite.testing.plant import SimulatedPlant

__all__ = [
    "ALL_STREAMS",
    "ExpectedAsset",
    "ExpectedCdf",
    "ExpectedDeadLetter",
    "ExpectedEvent",
    "ExpectedTimeSeries",
    "build_expected",
    "dead_letter_reason",
    "plex_ms",
]

Stream = Literal["master_data", "jobs", "production", "scrap", "workcenter_status"]
#: The default streams of `expected_cdf`; the inventory side (`INVENTORY_STREAMS`) is opt-in.
ALL_STREAMS: tuple[Stream, ...] = ("master_data", "jobs", "production", "scrap", "workcenter_status")

_KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "jobs": ("id",),
    "production": ("workcenterId", "transactionDate"),
    "scrap": ("workcenterId", "transactionDate"),
    "workcenter_status": ("workcenterId", "logDate"),
    "container_moves": ("serialNo", "adjustmentDate"),
}
_DATE_FIELDS: dict[str, tuple[str, ...]] = {
    "jobs": ("createdDate", "dueDate", "completedDate", "earliestStartDateTime"),
    "production": ("transactionDate",),
    "scrap": ("transactionDate",),
    "workcenter_status": ("logDate",),
    "container_moves": ("adjustmentDate",),
}
_NUMBER_FIELDS: dict[str, tuple[str, ...]] = {
    "jobs": ("quantity", "quantityCompleted"),
    "production": ("quantity",),
    "scrap": ("quantity",),
    "workcenter_status": ("duration",),
    "container_moves": ("quantity", "netWeight"),
}
_NON_NEGATIVE: dict[str, tuple[str, ...]] = {
    "jobs": (),
    "production": ("quantity",),
    "scrap": ("quantity",),
    "workcenter_status": ("duration",),
}


def plex_ms(text: str) -> int:
    """Epoch milliseconds of a Plex date-time string (floored)."""
    return to_ms(parse_plex_datetime(text))


def dead_letter_reason(stream: str, row: Mapping[str, Any]) -> str | None:
    """The reason kind a raw row of `stream` is rejected for, or None when it is valid.

    Checked in this order: `missing_field` (a key field absent or null), `invalid_datetime` (a non-null date field
    that `parse_plex_datetime` rejects), `invalid_number` (a non-null number field that is not an int/float),
    `negative_number` (a quantity or duration below zero).
    """
    if any(row.get(name) is None for name in _KEY_FIELDS.get(stream, ())):
        return "missing_field"
    for name in _DATE_FIELDS.get(stream, ()):
        value = row.get(name)
        if value is not None:
            try:
                parse_plex_datetime(value) if isinstance(value, str) else _fail()
            except ValueError:
                return "invalid_datetime"
    for name in _NUMBER_FIELDS.get(stream, ()):
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return "invalid_number"
    if any((row.get(name) or 0) < 0 for name in _NON_NEGATIVE.get(stream, ())):
        return "negative_number"
    return None


def _fail() -> None:
    raise ValueError("not a string")


@dataclass
class ExpectedCdf:
    """What CDF must contain after a full extraction of one or more simulated plants.

    Attributes:
        pcns: The PCNs covered; `mismatches` only looks at CDF objects whose external id starts with `PCN{pcn}_`.
        assets: By external id.
        events: By external id (deferred events are absent).
        timeseries: By external id.
        datapoints: Series external id -> {timestamp ms: value}.
        dead_letters: Rows a correct extraction rejects.
        deferred: Event external id -> the missing asset external ids that hold it back (`on_missing_asset="defer"`).
        raw: RAW table -> row key -> columns (containers, data-source rows; see `_plant_expected_inventory`).
        on_hand: On-hand series external id -> the value of its latest datapoint.
    """

    pcns: frozenset[str]
    assets: dict[str, ExpectedAsset] = field(default_factory=dict)
    events: dict[str, ExpectedEvent] = field(default_factory=dict)
    timeseries: dict[str, ExpectedTimeSeries] = field(default_factory=dict)
    datapoints: dict[str, dict[int, float]] = field(default_factory=dict)
    dead_letters: list[ExpectedDeadLetter] = field(default_factory=list)
    deferred: dict[str, frozenset[str]] = field(default_factory=dict)
    raw: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    on_hand: dict[str, float] = field(default_factory=dict)

    def dead_letter_counts(self) -> Counter[tuple[str, str]]:
        """How many dead letters per `(stream, reason_kind)`."""
        return Counter((letter.stream, letter.reason_kind) for letter in self.dead_letters)

    def datapoint_count(self) -> int:
        """The total number of expected datapoints."""
        return sum(len(points) for points in self.datapoints.values())

    def __or__(self, other: ExpectedCdf) -> ExpectedCdf:
        """The union of two plants' expectations (for multi-PCN runs)."""
        return ExpectedCdf(
            pcns=self.pcns | other.pcns,
            assets={**self.assets, **other.assets},
            events={**self.events, **other.events},
            timeseries={**self.timeseries, **other.timeseries},
            datapoints={**self.datapoints, **other.datapoints},
            dead_letters=[*self.dead_letters, *other.dead_letters],
            deferred={**self.deferred, **other.deferred},
            raw={
                table: {**self.raw.get(table, {}), **other.raw.get(table, {})}
                for table in self.raw.keys() | other.raw.keys()
            },
            on_hand={**self.on_hand, **other.on_hand},
        )

    def _ours(self, external_id: object) -> bool:
        return isinstance(external_id, str) and any(external_id.startswith(f"PCN{pcn}_") for pcn in self.pcns)

    def mismatches(
        self,
        assets: Iterable[Mapping[str, Any]],
        events: Iterable[Mapping[str, Any]] = (),
        timeseries: Iterable[Mapping[str, Any]] = (),
        datapoints: Mapping[str, Sequence[tuple[int, float]]] | None = None,
        *,
        raw: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        on_hand: Mapping[str, float] | None = None,
    ) -> list[str]:
        """Compare actual CDF content (dicts as the CDF API returns them) with this expectation.

        Args:
            assets: Every asset in the project (`id`, `externalId`, `name`, `parentId`, `description`).
            events: Every event (`externalId`, `type`, `subtype`, `startTime`, `endTime`, `assetIds`).
            timeseries: Every time series (`externalId`, `assetId`).
            datapoints: Series external id -> `(timestamp ms, value)` pairs; None skips the datapoint comparison.
                On-hand series are left out of it (their timestamps are pass times): compare them with `on_hand`.
            raw: RAW table -> key -> columns, for the tables in `self.raw` (None skips the RAW comparison); only
                rows whose key starts with `PCN{pcn}_` are compared.
            on_hand: On-hand series external id -> the value of its latest datapoint (None skips it).

        Returns:
            One readable line per difference (missing, unexpected or different objects); empty when CDF matches.
        """
        asset_rows = list(assets)
        xid_by_id = {row["id"]: row.get("externalId") for row in asset_rows if "id" in row}
        problems: list[str] = []
        actual_assets = {
            row["externalId"]: ExpectedAsset(
                row["externalId"], row.get("name", ""), xid_by_id.get(row.get("parentId")), row.get("description")
            )
            for row in asset_rows
            if self._ours(row.get("externalId"))
        }
        problems += _compare("asset", self.assets, actual_assets)
        actual_events = {
            row["externalId"]: ExpectedEvent(
                row["externalId"],
                row.get("type", ""),
                row.get("subtype"),
                row.get("startTime"),
                row.get("endTime"),
                frozenset(str(xid_by_id.get(asset_id, f"id:{asset_id}")) for asset_id in row.get("assetIds") or ()),
            )
            for row in events
            if self._ours(row.get("externalId"))
        }
        problems += _compare("event", self.events, actual_events)
        actual_series = {
            row["externalId"]: ExpectedTimeSeries(
                row["externalId"], str(xid_by_id.get(row.get("assetId"), f"id:{row.get('assetId')}"))
            )
            for row in timeseries
            if self._ours(row.get("externalId"))
        }
        problems += _compare("time series", self.timeseries, actual_series)
        if datapoints is not None:
            actual_points = {xid: dict(points) for xid, points in datapoints.items() if points and self._ours(xid)}
            actual_points = {xid: points for xid, points in actual_points.items() if xid not in self.on_hand}
            expected_points = {xid: points for xid, points in self.datapoints.items() if points}
            problems += _compare("datapoints of", expected_points, actual_points)
        if raw is not None:
            for table, rows in sorted(self.raw.items()):
                actual_rows = {key: dict(columns) for key, columns in raw.get(table, {}).items() if self._ours(key)}
                problems += _compare(f"RAW row of {table}", rows, actual_rows)
        if on_hand is not None:
            actual_latest = {xid: value for xid, value in on_hand.items() if self._ours(xid)}
            problems += _compare("latest on-hand value of", self.on_hand, actual_latest)
        return problems


def _compare(kind: str, expected: Mapping[str, object], actual: Mapping[str, object], limit: int = 50) -> list[str]:
    problems: list[str] = []
    for xid in sorted(expected.keys() - actual.keys()):
        problems.append(f"missing {kind} {xid}")
    for xid in sorted(actual.keys() - expected.keys()):
        problems.append(f"unexpected {kind} {xid}")
    for xid in sorted(expected.keys() & actual.keys()):
        if expected[xid] != actual[xid]:
            problems.append(f"{kind} {xid} differs: expected {expected[xid]!r}, got {actual[xid]!r}")
    if len(problems) > limit:
        problems = [*problems[:limit], f"... and {len(problems) - limit} more {kind} differences"]
    return problems


def build_expected(
    plant: SimulatedPlant,
    start: datetime | None,
    end: datetime | None,
    streams: Sequence[str],
    on_missing_asset: Literal["defer", "skip_link"],
) -> ExpectedCdf:
    """Apply the mapping rules of this module to every raw row of `plant` (see `SimulatedPlant.expected_cdf`)."""
    pcn = plant.pcn
    out = ExpectedCdf(pcns=frozenset({pcn}))
    prefix = f"PCN{pcn}"
    plant_xid, parts_xid = f"{prefix}_PLANT", f"{prefix}_PARTS"
    workcenters = plant.workcenters()
    if "master_data" in streams:
        out.assets[plant_xid] = ExpectedAsset(plant_xid, f"PCN {pcn}", None)
        for building in plant.buildings():
            xid = f"{prefix}_BLDG_{building['id']}"
            out.assets[xid] = ExpectedAsset(xid, building["buildingCode"], plant_xid, building.get("name"))
        for wc in workcenters:
            xid = f"{prefix}_WC_{wc['workcenterId']}"
            parent = f"{prefix}_BLDG_{wc['buildingId']}" if wc.get("buildingId") else plant_xid
            out.assets[xid] = ExpectedAsset(xid, wc["workcenterCode"], parent, wc.get("name"))
        out.assets[parts_xid] = ExpectedAsset(parts_xid, "Parts", plant_xid)
        for part in plant.parts():
            xid = f"{prefix}_PART_{part['id']}"
            name = f"{part['number']}-{part['revision']}" if part.get("revision") else part["number"]
            out.assets[xid] = ExpectedAsset(xid, name, parts_xid, part.get("name"))

    def add_event(event: ExpectedEvent) -> None:
        missing = frozenset(xid for xid in event.asset_external_ids if xid not in out.assets)
        if missing and on_missing_asset == "defer":
            out.deferred[event.external_id] = missing
            return
        if missing:
            event = replace(event, asset_external_ids=event.asset_external_ids - missing)
        out.events[event.external_id] = event

    def rejected(stream: str, row: Mapping[str, Any]) -> bool:
        reason = dead_letter_reason(stream, row)
        if reason is not None:
            out.dead_letters.append(ExpectedDeadLetter(stream, reason, row))
        return reason is not None

    if "jobs" in streams:
        for job in plant.jobs():
            if rejected("jobs", job):
                continue
            links = set()
            if job.get("partId"):
                links.add(f"{prefix}_PART_{job['partId']}")
            if job.get("buildingId"):
                links.add(f"{prefix}_BLDG_{job['buildingId']}")
            started = job.get("earliestStartDateTime") or job.get("createdDate")
            add_event(
                ExpectedEvent(
                    f"{prefix}_JOB_{job['id']}",
                    "job",
                    job.get("jobStatus"),
                    None if started is None else plex_ms(started),
                    None if job.get("completedDate") is None else plex_ms(job["completedDate"]),
                    frozenset(links),
                )
            )
    if "workcenter_status" in streams:
        for entry in plant.workcenter_status_entries(start, end):
            if rejected("workcenter_status", entry):
                continue
            logged = plex_ms(entry["logDate"])
            links = {f"{prefix}_WC_{entry['workcenterId']}"}
            if entry.get("partId"):
                links.add(f"{prefix}_PART_{entry['partId']}")
            add_event(
                ExpectedEvent(
                    f"{prefix}_WCS_{entry['workcenterId']}_{logged}",
                    "workcenter_status",
                    entry.get("workcenterStatus"),
                    logged,
                    logged + int(entry.get("duration") or 0) * 1000,
                    frozenset(links),
                )
            )
    for stream, suffix, rows in (
        ("production", "PRODUCED_QTY", plant.production_entries),
        ("scrap", "SCRAP_QTY", plant.scrap_entries),
    ):
        if stream not in streams:
            continue
        for wc in workcenters:
            xid = f"{prefix}_WC_{wc['workcenterId']}_{suffix}"
            out.timeseries[xid] = ExpectedTimeSeries(xid, f"{prefix}_WC_{wc['workcenterId']}")
            out.datapoints[xid] = {}
        for entry in rows(start, end):
            if rejected(stream, entry):
                continue
            series = out.datapoints.setdefault(f"{prefix}_WC_{entry['workcenterId']}_{suffix}", {})
            moment = plex_ms(entry["transactionDate"])
            series[moment] = series.get(moment, 0.0) + float(entry["quantity"])
    add_inventory(out, plant, start, end, streams, add_event, rejected)
    return out
