"""The Core Data Model views FakeCDF knows (`cdf_cdm`, v1), and validation of node properties against them.

Only the views the Plex sink writes (CogniteAsset, CogniteActivity, CogniteTimeSeries, CogniteSourceSystem) and the
views they implement (CogniteDescribable, CogniteSourceable, CogniteSchedulable, CogniteVisualizable) are served.
A property a view does not have, a value of the wrong type, a read-only property or a missing required property is a
400, as in CDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plex_cognite.testing._cdf_errors import bad_request

CDM_SPACE = "cdf_cdm"
CDM_VERSION = "v1"
SYSTEM_SPACES = ("cdf_cdm", "cdf_cdm_units")


@dataclass(frozen=True, slots=True)
class Prop:
    """One view property: its type, and whether it must be set on create / may be written at all.

    `kind` is one of: text, text_list, timestamp, boolean, direct, direct_list, enum.
    """

    kind: str
    required: bool = False
    read_only: bool = False
    values: tuple[str, ...] = ()


_TEXT, _TEXTS, _TIME, _DIRECT = Prop("text"), Prop("text_list"), Prop("timestamp"), Prop("direct")

_DESCRIBABLE: dict[str, Prop] = {"name": _TEXT, "description": _TEXT, "tags": _TEXTS, "aliases": _TEXTS}
_SOURCEABLE: dict[str, Prop] = {
    "sourceId": _TEXT,
    "sourceContext": _TEXT,
    "source": _DIRECT,
    "sourceCreatedTime": _TIME,
    "sourceUpdatedTime": _TIME,
    "sourceCreatedUser": _TEXT,
    "sourceUpdatedUser": _TEXT,
}
_SCHEDULABLE: dict[str, Prop] = {
    "startTime": _TIME,
    "endTime": _TIME,
    "scheduledStartTime": _TIME,
    "scheduledEndTime": _TIME,
}
_VISUALIZABLE: dict[str, Prop] = {"object3D": _DIRECT}
_LINKS = Prop("direct_list")

VIEWS: dict[str, dict[str, Prop]] = {
    "CogniteDescribable": _DESCRIBABLE,
    "CogniteSourceable": _SOURCEABLE,
    "CogniteSchedulable": _SCHEDULABLE,
    "CogniteVisualizable": _VISUALIZABLE,
    "CogniteSourceSystem": {**_DESCRIBABLE, "sourceSystemVersion": _TEXT, "manufacturer": _TEXT},
    "CogniteAsset": {
        **_VISUALIZABLE,
        **_DESCRIBABLE,
        **_SOURCEABLE,
        "parent": _DIRECT,
        "root": Prop("direct", read_only=True),
        "path": Prop("direct_list", read_only=True),
        "pathLastUpdatedTime": Prop("timestamp", read_only=True),
        "assetClass": _DIRECT,
        "type": _DIRECT,
    },
    "CogniteActivity": {
        **_DESCRIBABLE,
        **_SOURCEABLE,
        **_SCHEDULABLE,
        "assets": _LINKS,
        "equipment": _LINKS,
        "timeSeries": _LINKS,
    },
    "CogniteTimeSeries": {
        **_DESCRIBABLE,
        **_SOURCEABLE,
        "isStep": Prop("boolean", required=True),
        "type": Prop("enum", required=True, values=("numeric", "string", "state")),
        "sourceUnit": _TEXT,
        "unit": _DIRECT,
        "assets": _LINKS,
        "equipment": _LINKS,
        "stateSet": _DIRECT,
    },
}

IMPLEMENTS: dict[str, tuple[str, ...]] = {
    "CogniteSourceSystem": ("CogniteDescribable",),
    "CogniteAsset": ("CogniteVisualizable", "CogniteDescribable", "CogniteSourceable"),
    "CogniteActivity": ("CogniteDescribable", "CogniteSourceable", "CogniteSchedulable"),
    "CogniteTimeSeries": ("CogniteDescribable", "CogniteSourceable"),
}


def view_key(source: object) -> str:
    """The view's name from a `{"type": "view", "space", "externalId", "version"}` reference (400 if unknown)."""
    if not isinstance(source, Mapping) or source.get("type", "view") != "view":
        raise bad_request(f"A source must be a view reference, got {source!r}")
    space, xid, version = source.get("space"), source.get("externalId"), source.get("version")
    if space != CDM_SPACE or version != CDM_VERSION or xid not in VIEWS:
        raise bad_request(f"View {space}:{xid}/{version} does not exist (FakeCDF serves the cdf_cdm v1 views)")
    return str(xid)


def view_ref(view: str) -> dict[str, str]:
    """The JSON reference to a CDM view."""
    return {"type": "view", "space": CDM_SPACE, "externalId": view, "version": CDM_VERSION}


def has_data_in(written: set[str], view: str) -> bool:
    """Whether a node with data written through the views `written` has data in `view` (implemented views count)."""
    return any(view == name or view in IMPLEMENTS.get(name, ()) for name in written)


def check_properties(view: str, properties: object, where: str) -> dict[str, Any]:
    """Validate the properties written through one view; returns them (400 naming the property otherwise)."""
    if not isinstance(properties, Mapping):
        raise bad_request(f"{where}: properties must be an object")
    schema = VIEWS[view]
    for name, value in properties.items():
        spec = schema.get(name)
        if spec is None:
            raise bad_request(f"{where}: property '{name}' does not exist in view {CDM_SPACE}:{view}/{CDM_VERSION}")
        if spec.read_only:
            raise bad_request(f"{where}: property '{name}' of view {view} is read-only")
        if value is not None and not _valid(spec, value):
            raise bad_request(f"{where}: property '{name}' of view {view} expects {_expected(spec)}, got {value!r}")
    return dict(properties)


def missing_required(view: str, properties: Mapping[str, Any]) -> list[str]:
    """Required properties of `view` that are absent or null in `properties`."""
    return [name for name, spec in VIEWS[view].items() if spec.required and properties.get(name) is None]


def direct_targets(view: str, properties: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The `(space, externalId)` nodes the direct relations among `properties` point at."""
    out: list[tuple[str, str]] = []
    for name, value in properties.items():
        kind = VIEWS[view][name].kind
        if value is None or kind not in ("direct", "direct_list"):
            continue
        for ref in value if kind == "direct_list" else [value]:
            out.append((ref["space"], ref["externalId"]))
    return out


def _is_ref(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and set(value) == {"space", "externalId"}
        and all(isinstance(value[k], str) and value[k] for k in ("space", "externalId"))
    )


def _is_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _valid(spec: Prop, value: Any) -> bool:
    match spec.kind:
        case "text":
            return isinstance(value, str)
        case "text_list":
            return isinstance(value, list) and all(isinstance(v, str) for v in value)
        case "timestamp":
            return _is_time(value)
        case "boolean":
            return isinstance(value, bool)
        case "enum":
            return value in spec.values
        case "direct":
            return _is_ref(value)
        case "direct_list":
            return isinstance(value, list) and len(value) <= 1000 and all(_is_ref(v) for v in value)
    return False


def _expected(spec: Prop) -> str:
    return {
        "text": "a string",
        "text_list": "a list of strings",
        "timestamp": "an ISO 8601 timestamp with a time zone",
        "boolean": "a boolean",
        "enum": f"one of {list(spec.values)}",
        "direct": 'a direct relation {"space", "externalId"}',
        "direct_list": 'a list of direct relations {"space", "externalId"}',
    }[spec.kind]
