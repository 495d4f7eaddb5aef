"""The inventory and Data Source mapping as the simulated plant's oracle; `build_expected` calls it.

It covers the streams `inventory`, `container_moves` and `datasource:checksheets`.

Rules (the same as `docs/inventory.md`):

Locations (stream `inventory`): asset `PCN{pcn}_LOC_{locationId}`, name `locationCode`, description `locationType`,
parent `PCN{pcn}_BLDG_{id}` of the building whose `buildingCode` equals the location's, else the plant.

Containers (stream `inventory`): RAW table `inventory_containers`, key `PCN{pcn}_{serialNo}`, columns every Plex
field of the row plus `pcn`; date-times as the client writes them back (`YYYY-MM-DDThh:mm:ss.fffffffZ`).

On hand (stream `inventory`): a time series `PCN{pcn}_PART_{partId}_ON_HAND_QTY` on the part asset for every part of
the plant that has active containers; its latest value is `math.fsum` of their quantities (`ExpectedCdf.on_hand`).
Containers of parts the plant does not have are in RAW only. `on_hand_changes(before, after)` lists the series that
must get a new point after a plant mutation, with the value (0 for a part whose containers are all gone).

Moves (stream `container_moves`, window `[start, end)` on `adjustmentDate`): event
`PCN{pcn}_MOVE_{serialNo}_{adjustmentDate ms}`, type `container_move`, subtype `adjustmentCode`, start = end =
`adjustmentDate`, linked to the part and, when the plant lists that location, the destination location. A move
without `adjustmentDate`, with an unparsable one, or with a text number is a dead letter (`container_moves`).

Checksheets (stream `datasource:checksheets`, the data source `CHECKSHEETS_SOURCE`): RAW table `checksheets`, key
`PCN{pcn}_{Checksheet_Key}`, columns the row as the data source returns it plus `pcn`, for rows with
`Checksheet_Date` in `[start, end)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plex_cognite.plex._dates import format_plex_datetime
from plex_cognite.testing._expected_items import ExpectedAsset, ExpectedEvent, ExpectedTimeSeries
from plex_cognite.testing._plant_time import parse_plex_datetime, to_ms

if TYPE_CHECKING:
    from plex_cognite.testing._plant_expected import ExpectedCdf
    from plex_cognite.testing.plant import SimulatedPlant

__all__ = [
    "CHECKSHEETS_SOURCE",
    "CHECKSHEETS_STREAM",
    "CONTAINERS_TABLE",
    "INVENTORY_STREAMS",
    "add_inventory",
    "container_columns",
    "expected_on_hand",
    "on_hand_changes",
]

#: The RAW table of active containers.
CONTAINERS_TABLE = "inventory_containers"
#: The data-source stream the plant's expectation covers, and its `extraction.datasources` entry.
CHECKSHEETS_STREAM = "datasource:checksheets"
CHECKSHEETS_SOURCE: dict[str, Any] = {
    "name": "checksheets",
    "id": 4142,
    "inputs": {},
    "window": {"begin_input": "Begin_Date", "end_input": "End_Date"},
    "key_columns": ["Checksheet_Key"],
    "raw_table": "checksheets",
}
#: Every inventory-side stream `expected_cdf` understands.
INVENTORY_STREAMS = ("inventory", "container_moves", CHECKSHEETS_STREAM)
_CONTAINER_DATES = ("addDateTime", "updateDateTime", "containerShelfDateTime")


def _as_written(value: object) -> object:
    # The client parses Plex date-times and writes them back with 7 fraction digits.
    if not isinstance(value, str):
        return value
    return format_plex_datetime(parse_plex_datetime(value))


def container_columns(row: Mapping[str, Any], pcn: str) -> dict[str, Any]:
    """The RAW columns a container row becomes."""
    columns = {name: (_as_written(value) if name in _CONTAINER_DATES else value) for name, value in row.items()}
    columns["pcn"] = pcn
    return columns


def expected_on_hand(plant: SimulatedPlant) -> dict[str, float]:
    """On-hand series external id -> sum of quantities, for the plant's parts that have active containers."""
    parts = {part["id"] for part in plant.parts()}
    quantities: dict[str, list[float]] = {}
    for container in plant.containers():
        if container.get("partId") in parts:
            quantities.setdefault(container["partId"], []).append(float(container.get("quantity") or 0.0))
    return {f"PCN{plant.pcn}_PART_{part}_ON_HAND_QTY": math.fsum(values) for part, values in quantities.items()}


def on_hand_changes(before: SimulatedPlant, after: SimulatedPlant) -> dict[str, float]:
    """The on-hand series that must get a new point when `after` is extracted after `before`, with the value."""
    old, new = expected_on_hand(before), expected_on_hand(after)
    changed = {xid: value for xid, value in new.items() if old.get(xid) != value}
    changed.update({xid: 0.0 for xid in old.keys() - new.keys() if old[xid] != 0.0})
    return changed


def add_inventory(
    out: ExpectedCdf,
    plant: SimulatedPlant,
    start: datetime | None,
    end: datetime | None,
    streams: Sequence[str],
    add_event: Callable[[ExpectedEvent], None],
    rejected: Callable[[str, Mapping[str, Any]], bool],
) -> None:
    """Add what the inventory-side streams of `plant` must produce to `out`."""
    prefix = f"PCN{plant.pcn}"
    locations = plant.locations()
    location_ids = {location["locationId"] for location in locations}
    if "inventory" in streams:
        buildings = {b["buildingCode"]: b["id"] for b in plant.buildings() if b.get("buildingCode")}
        for location in locations:
            xid = f"{prefix}_LOC_{location['locationId']}"
            building = buildings.get(location.get("buildingCode") or "")
            parent = f"{prefix}_BLDG_{building}" if building else f"{prefix}_PLANT"
            name = location.get("locationCode") or location["locationId"]
            out.assets[xid] = ExpectedAsset(xid, name, parent, location.get("locationType"))
        table = out.raw.setdefault(CONTAINERS_TABLE, {})
        for container in plant.containers():
            table[f"{prefix}_{container['serialNo']}"] = container_columns(container, plant.pcn)
        for xid, value in expected_on_hand(plant).items():
            out.timeseries[xid] = ExpectedTimeSeries(xid, xid.removesuffix("_ON_HAND_QTY"))
            out.on_hand[xid] = value
    if "container_moves" in streams:
        for move in plant.container_moves(start, end):
            if rejected("container_moves", move):
                continue
            moment = to_ms(parse_plex_datetime(move["adjustmentDate"]))
            links = set()
            if move.get("partId"):
                links.add(f"{prefix}_PART_{move['partId']}")
            if move.get("locationId") in location_ids:
                links.add(f"{prefix}_LOC_{move['locationId']}")
            add_event(
                ExpectedEvent(
                    f"{prefix}_MOVE_{move['serialNo']}_{moment}",
                    "container_move",
                    move.get("adjustmentCode"),
                    moment,
                    moment,
                    frozenset(links),
                )
            )
    if CHECKSHEETS_STREAM in streams:
        table = out.raw.setdefault(str(CHECKSHEETS_SOURCE["raw_table"]), {})
        for row in plant.checksheets(start or plant.start, end or plant.end):
            table[f"{prefix}_{row['Checksheet_Key']}"] = {**row, "pcn": plant.pcn}
