"""The simulated plant's catalog: constants, customer-defined names and the mutation rule.

Names here are what a Plex customer configures (status names, scrap reasons, job statuses); they are deliberately
not the textbook ones, so code that hard-codes "Running"/"Down" fails against the plant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plex_cognite.testing._plant_time import mix

__all__ = [
    "BAD_DATES",
    "BAD_NUMBERS",
    "CLOSED_JOB_STATUSES",
    "DAY_MS",
    "EMPLOYEES",
    "HISTORY_START_MS",
    "JOB_BOUND_STATUSES",
    "JOB_LEAD_MS",
    "JOB_STATUSES",
    "MALFORMED_KINDS",
    "PART_NOUNS",
    "PART_TYPES",
    "PRIORITIES",
    "REVISIONS",
    "SCRAP_REASONS",
    "STATUSES",
    "STATUS_WEIGHTS",
    "WC_TYPES",
    "MutationLayer",
    "building_row",
    "location_code",
    "status_row",
]

DAY_MS = 86_400_000
#: Every plant's history starts here (a Monday, 2025-01-06T00:00:00Z).
HISTORY_START_MS = 1_736_121_600_000
JOB_LEAD_MS = 30 * DAY_MS

#: The malformed-row kinds each stream produces, in rotation (see `PlantRows.malformed_kind`).
MALFORMED_KINDS: dict[str, tuple[str, ...]] = {
    "jobs": ("invalid_datetime", "missing_field", "invalid_number"),
    "production": ("invalid_datetime", "missing_field", "invalid_number", "negative_number"),
    "scrap": ("invalid_datetime", "missing_field", "invalid_number", "negative_number"),
    "container_moves": ("missing_field", "invalid_datetime", "invalid_number"),
    "workcenter_status": ("invalid_datetime", "missing_field", "invalid_number", "negative_number"),
}
BAD_DATES = ("2025-02-30T10:00:00Z", "10/3/2025 2:05:12 PM", "2025-10-03 14:05:12")
BAD_NUMBERS = ("12,5", "n/a")

WC_TYPES = ("MILL", "LATHE", "PRESS", "ASSEMBLY", "INSPECTION")
PART_TYPES = ("Finished Good", "Raw Material", "Sub Assembly")
PART_NOUNS = ("Hex Bolt", "Bracket", "Housing", "Shaft", "Gear", "Flange", "Bushing", "Cover Plate")
REVISIONS = ("A", "B", "AAA", "")
JOB_STATUSES = ("Open", "Released", "In Process", "Complete", "Closed - Short", "On Hold: Quality", "Scheduled")
CLOSED_JOB_STATUSES = frozenset({"Complete", "Closed - Short", "Closed"})
PRIORITIES = ("Normal", "High", "Hot")
SCRAP_REASONS = ("Dimensional - OD oversize", "Porosity", "Setup scrap", "Damaged in handling", "Material defect")
EMPLOYEES = ("Smith, John", "Garcia, Maria", "Nguyen, Linh", "Okafor, Chidi", "Kowalski, Anna", "Patel, Ravi")
# Customer-defined status names (Plex lets every customer name them), with the flags that classify them.
STATUSES: tuple[tuple[str, str, bool], ...] = (
    ("Production", "productionStatus", True),
    ("Setup - Changeover", "setupStatus", True),
    ("Unplanned Downtime", "downtimeStatus", True),
    ("Waiting on Material", "idleStatus", True),
    ("Planned Maintenance", "maintenanceStatus", True),
    ("Idle / No Operator", "idleStatus", True),
    ("Quality Hold (QA)", "downtimeStatus", True),
    ("Legacy Off", "offStatus", False),
)
STATUS_WEIGHTS = (0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 0)  # indexes into _STATUSES; production is most common
JOB_BOUND_STATUSES = frozenset({"Production", "Setup - Changeover", "Quality Hold (QA)"})


@dataclass(frozen=True)
class MutationLayer:
    """One `SimulatedPlant.mutate` call: which records it changes (a hashed fraction, or explicit Plex ids)."""

    revision: int
    salt: int
    fraction: float
    ids: frozenset[str] | None
    #: Serial numbers of containers this revision consumes (they leave the active snapshot).
    consumed: frozenset[str] = frozenset()
    #: `(serialNo, new quantity)` of containers whose quantity this revision changes.
    quantities: tuple[tuple[str, float], ...] = ()

    def touches(self, kind: int, index: int, plex_id: str) -> bool:
        """Whether this layer changes the record of `kind` at `index` (with Plex id `plex_id`)."""
        if self.ids is not None:
            return plex_id in self.ids
        return mix(self.salt ^ (kind << 48) ^ index) < self.fraction * 2.0**64


def location_code(index: int) -> str:
    """The `locationCode` of location `index` (containers name their location by it too)."""
    return f"WIP-{index:02d}"


def building_row(building_id: str, pcn: str, i: int) -> dict[str, Any]:
    """Building `i` of a plant."""
    return {
        "id": building_id,
        "buildingCode": f"B{i + 1}",
        "buildingType": "Warehouse" if i % 4 == 3 else "Plant",
        # one building without a name: asset names fall back to the code
        "name": None if i == 1 else f"Building {i + 1} ({pcn})",
        "oldBuildingCode": None,
        "active": True,
        "address": f"{100 + i} Industrial Way" if i % 2 == 0 else None,
        "city": "Grand Rapids",
        "state": "MI",
        "country": "USA",
        "zipCode": "49503",
        "phone": None,
        "fax": None,
        "dunsNo": None,
        "taxId": None,
        "vatRegistrationNo": None,
    }


def status_row(status_id: str, i: int) -> dict[str, Any]:
    """Workcenter status definition `i` (customer-defined name and flags)."""
    description, flag, active = STATUSES[i]
    row: dict[str, Any] = {
        "id": status_id,
        "description": description,
        "canRunProduction": description == "Production",
        "offStatus": flag == "offStatus",
        "clockoutOperators": False,
        "idleStatus": flag == "idleStatus",
        "defaultAfterJobChange": description == "Setup - Changeover",
        "productionStatus": flag == "productionStatus",
        "setupStatus": flag == "setupStatus",
        "downtimeStatus": flag == "downtimeStatus",
        "noOperatorRequired": description == "Idle / No Operator",
        "laborCostSubTypeId": None,
        "maintenanceStatus": flag == "maintenanceStatus",
        "active": active,
        "excessSetup": False,
        "workcenterGroupWorkcenters": [],
        "linkedWorkcenterEvents": [],
    }
    return row
