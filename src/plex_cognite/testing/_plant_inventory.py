"""Inventory rows of the simulated plant: locations, container location moves and checksheet data-source rows.

Like every plant row these are pure functions of `(seed, pcn, index)`. Active containers themselves live in
`_plant_rows` (they predate this module); the container mutations (consumed containers, changed quantities) are
applied here, on top of them.

Awkward cases, on purpose:

- location 3 names no building (`buildingCode` null), location 7 names a building the plant does not have (`B99`);
- every 17th container (index 5 mod 17) holds a part that does not exist, every 10th (3 mod 10) holds 0;
- moves: one in `malformed_every` is malformed (no `adjustmentDate`, an unparsable one, or a text `quantity`); moves
  of containers of unknown parts; every 11th move goes to a location the plant does not list;
- checksheets: one day (`CHECKSHEET_BUSY_DAY`) holds `checksheet_burst` extra rows, more than the simulated data
  source's read row limit, so a one-day window of it comes back truncated and must be split.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING

from plex_cognite.testing._plant_catalog import BAD_DATES, BAD_NUMBERS, DAY_MS, location_code
from plex_cognite.testing._plant_time import Kind, format_plex_ms

if TYPE_CHECKING:
    from plex_cognite.testing._plant_rows import PlantRows, Row

__all__ = [
    "ADJUSTMENT_CODES",
    "CHECKSHEET_BUSY_DAY",
    "CHECKSHEET_KEY_BASE",
    "NO_BUILDING_LOCATION",
    "UNKNOWN_BUILDING_LOCATION",
    "InventoryRows",
]

#: Adjustment reasons of location moves (customer-defined in Plex).
ADJUSTMENT_CODES = ("Move", "Relocate", "Cycle Count Move", "Put Away")
#: The location index without a building, and the one naming an unknown building.
NO_BUILDING_LOCATION = 3
UNKNOWN_BUILDING_LOCATION = 7
#: The day (0-based, from the start of the history) that holds the checksheet burst.
CHECKSHEET_BUSY_DAY = 2
#: `Checksheet_Key` of checksheet row 0.
CHECKSHEET_KEY_BASE = 700_000
_CHECK_TYPES = ("First Piece", "In Process", "Last Piece", "Audit")
# Kinds of this module's own id/hash spaces (beside `Kind`).
_MOVE = 0x0014
_CHECKSHEET = 0x0015


class InventoryRows:
    """Computes the inventory rows of one plant (the engine behind `SimulatedPlant`'s inventory methods)."""

    def __init__(self, rows: PlantRows) -> None:
        self._rows = rows
        self.size = rows.size

    # ---- locations -------------------------------------------------------------------------------------------
    def location(self, i: int) -> Row:
        """Location `i` (`/inventory/v1/inventory-definitions/locations`)."""
        buildings = self._rows.buildings
        building_code: str | None
        building_name: str | None
        if i == NO_BUILDING_LOCATION or not buildings:
            building_code = building_name = None
        elif i == UNKNOWN_BUILDING_LOCATION:
            building_code, building_name = "B99", "Closed building"
        else:
            building = buildings[i % len(buildings)]
            building_code, building_name = building["buildingCode"], building.get("name")
        return {
            "locationId": self._rows.uuid(Kind.LOCATION, i),
            "locationCode": location_code(i),
            "buildingName": building_name,
            "buildingCode": building_code,
            "locationType": "Warehouse" if i % 4 == 0 else "WIP",
            "inventoryLocation": True,
            "supplyLocation": i % 4 == 0,
            "tankSilo": False,
        }

    def locations(self) -> list[Row]:
        """Every location."""
        return [self.location(i) for i in range(self.size.locations)]

    # ---- containers, after mutations -------------------------------------------------------------------------
    @cached_property
    def _consumed(self) -> frozenset[str]:
        return frozenset().union(*(layer.consumed for layer in self._rows.layers))

    @cached_property
    def _quantities(self) -> dict[str, float]:
        changed: dict[str, float] = {}
        for layer in self._rows.layers:
            changed.update(layer.quantities)
        return changed

    def containers(self) -> Iterator[Row]:
        """The active containers: generated ones, minus consumed ones, with changed quantities applied."""
        consumed, quantities = self._consumed, self._quantities
        for i in range(self.size.containers):
            row = self._rows.container(i)
            serial = row["serialNo"]
            if serial in consumed:
                continue
            if serial in quantities:
                row["quantity"] = quantities[serial]
            yield row

    # ---- container location moves ----------------------------------------------------------------------------
    def move_ms(self, i: int) -> int:
        """The true time of move `i` (non-decreasing in `i`; a malformed move keeps its slot)."""
        span = self._rows.end_ms - self._rows.start_ms
        return self._rows.start_ms + (i * span) // max(self.size.container_moves, 1)

    def move(self, i: int) -> Row:
        """Container location move `i`, in time order."""
        h = self._rows.h(_MOVE, i)
        container = self._rows.container(h % max(self.size.containers, 1))
        locations = max(self.size.locations, 1)
        destination = (h >> 8) % locations
        # every 11th move goes to a location the plant does not list ("destination where known")
        destination_id = self._rows.uuid(Kind.LOCATION, locations + 1 if i % 11 == 4 else destination)
        source = (h >> 16) % locations
        row: Row = {
            "adjustmentDate": format_plex_ms(self.move_ms(i), i),
            "serialNo": container["serialNo"],
            "quantity": 0.0,
            "netWeight": 0.0,
            "adjustmentCode": ADJUSTMENT_CODES[(h >> 24) % len(ADJUSTMENT_CODES)],
            "partId": container["partId"],
            "partNumber": container["partNo"],
            "revision": container["revision"],
            "partNumberRevision": container["partNoRevision"],
            "partOperationId": container["partOperationId"],
            "operationCode": container["operationCode"],
            "operationNumber": container["operationNo"],
            "location": location_code(destination),
            "locationId": destination_id,
            "movedFromLocation": location_code(source),
            "movedFromLocationId": self._rows.uuid(Kind.LOCATION, source),
        }
        kind = self._rows.malformed_kind("container_moves", i)
        variant = i // max(self.size.malformed_every, 1)
        if kind == "missing_field":
            del row["adjustmentDate"]
        elif kind == "invalid_datetime":
            row["adjustmentDate"] = BAD_DATES[variant % len(BAD_DATES)]
        elif kind == "invalid_number":
            row["quantity"] = BAD_NUMBERS[variant % len(BAD_NUMBERS)]
        return row

    def moves(self, begin_us: int | None, end_us: int | None) -> Iterator[Row]:
        """Moves whose true time is in `[begin, end)` (microseconds; None: open), in time order."""
        indices = self._rows.window(self.size.container_moves, self.move_ms, begin_us, end_us)
        return self._rows.iterate(self.move, indices)

    # ---- checksheets (a Data Source) -------------------------------------------------------------------------
    @cached_property
    def _checksheet_times(self) -> list[int]:
        start, end = self._rows.start_ms, self._rows.end_ms
        regular = [start + (i * (end - start)) // max(self.size.checksheets, 1) for i in range(self.size.checksheets)]
        busy = start + CHECKSHEET_BUSY_DAY * DAY_MS
        burst = [busy + (j * DAY_MS) // max(self.size.checksheet_burst, 1) for j in range(self.size.checksheet_burst)]
        return sorted(time for time in (*regular, *burst) if time < end)

    def checksheet_count(self) -> int:
        """How many checksheet rows the plant holds over its whole history."""
        return len(self._checksheet_times)

    def checksheet(self, i: int) -> dict[str, object]:
        """Checksheet row `i` (time order), by column name, as the data source returns it."""
        h = self._rows.h(_CHECKSHEET, i)
        workcenters = self._rows.workcenters
        part = self._rows.part_info[h % self.size.parts] if self.size.parts else None
        passed = h % 13 != 0
        return {
            "Checksheet_Key": CHECKSHEET_KEY_BASE + i,
            "Checksheet_Date": format_plex_ms(self._checksheet_times[i], 1),
            "Checksheet_Type": _CHECK_TYPES[(h >> 8) % len(_CHECK_TYPES)],
            "Workcenter_Code": workcenters[(h >> 16) % len(workcenters)]["workcenterCode"] if workcenters else None,
            "Part_No_Revision": part[3] if part else None,
            "Status": "Pass" if passed else "Fail",
            # a failed check sometimes has no measured result: nulls are sent as JSON null
            "Result": None if not passed and h % 2 else round(((h >> 24) % 10_000) / 100.0, 2),
        }

    def checksheets(self, begin_ms: int, end_ms: int) -> list[dict[str, object]]:
        """Checksheet rows with `begin <= Checksheet_Date < end`, in time order."""
        times = self._checksheet_times
        return [self.checksheet(i) for i in range(bisect_left(times, begin_ms), bisect_left(times, end_ms))]
