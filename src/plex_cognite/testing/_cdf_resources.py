"""Field specifications and list filters of FakeCDF's classic resources.

Covers assets, events, time series, data sets and extraction pipelines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from plex_cognite.testing._cdf_errors import bad_request
from plex_cognite.testing._cdf_table import (
    LIST_OPS,
    NONE,
    SET,
    SET_NULL,
    Field,
    Predicate,
    Record,
    in_range,
    metadata_matches,
    parse_identifier,
)

if TYPE_CHECKING:
    from plex_cognite.testing._cdf_store import CDFStore

METADATA_OPS = frozenset({"set", "add", "remove"})
XID = Field("str", SET_NULL, max_len=255)

ASSET_FIELDS: dict[str, Field] = {
    "externalId": XID,
    "name": Field("str", SET, required=True, max_len=140),
    "parentId": Field("int", SET),
    "parentExternalId": Field("str", SET, max_len=255),
    "description": Field("str", SET_NULL, max_len=500),
    "dataSetId": Field("int", SET_NULL),
    "metadata": Field("metadata", METADATA_OPS),
    "source": Field("str", SET_NULL, max_len=128),
    "labels": Field("labels", LIST_OPS),
    "geoLocation": Field("json", SET_NULL),
}

EVENT_FIELDS: dict[str, Field] = {
    "externalId": XID,
    "startTime": Field("int", SET_NULL),
    "endTime": Field("int", SET_NULL),
    "type": Field("str", SET_NULL, max_len=64),
    "subtype": Field("str", SET_NULL, max_len=64),
    "description": Field("str", SET_NULL, max_len=500),
    "metadata": Field("metadata", METADATA_OPS),
    "assetIds": Field("int_list", LIST_OPS),
    "source": Field("str", SET_NULL, max_len=128),
    "dataSetId": Field("int", SET_NULL),
}

TIMESERIES_FIELDS: dict[str, Field] = {
    "externalId": XID,
    "name": Field("str", SET_NULL, max_len=255),
    "legacyName": Field("str", NONE, max_len=255),
    "isString": Field("bool", NONE),
    "isStep": Field("bool", SET),
    "metadata": Field("metadata", METADATA_OPS),
    "unit": Field("str", SET_NULL, max_len=32),
    "unitExternalId": Field("str", SET_NULL, max_len=256),
    "assetId": Field("int", SET_NULL),
    "description": Field("str", SET_NULL, max_len=1000),
    "securityCategories": Field("int_list", LIST_OPS),
    "dataSetId": Field("int", SET_NULL),
}

DATASET_FIELDS: dict[str, Field] = {
    "externalId": XID,
    "name": Field("str", SET_NULL, max_len=50),
    "description": Field("str", SET_NULL, max_len=500),
    "metadata": Field("metadata", METADATA_OPS),
    "writeProtected": Field("bool", SET),
}

EXTPIPE_FIELDS: dict[str, Field] = {
    "externalId": Field("str", SET, required=True, max_len=255),
    "name": Field("str", SET, required=True, max_len=140),
    "dataSetId": Field("int", SET, required=True),
    "description": Field("str", SET_NULL, max_len=500),
    "rawTables": Field("json", SET_NULL),
    "schedule": Field("str", SET_NULL),
    "contacts": Field("json", SET_NULL),
    "metadata": Field("metadata", METADATA_OPS),
    "source": Field("str", SET_NULL),
    "documentation": Field("str", SET_NULL),
    "notificationConfig": Field("json", SET_NULL),
    "createdBy": Field("str", SET_NULL),
}

FIELDS: dict[str, dict[str, Field]] = {
    "assets": ASSET_FIELDS,
    "events": EVENT_FIELDS,
    "timeseries": TIMESERIES_FIELDS,
    "datasets": DATASET_FIELDS,
    "extpipes": EXTPIPE_FIELDS,
}

FilterBuilder = Callable[["CDFStore", Any], Predicate]


def _field_equals(name: str) -> FilterBuilder:
    return lambda store, wanted: lambda record: record.get(name) == wanted


def _field_range(name: str) -> FilterBuilder:
    return lambda store, bounds: lambda record: in_range(record.get(name), bounds, name)


def _xid_prefix(store: CDFStore, prefix: Any) -> Predicate:
    return lambda record: str(record.get("externalId") or "").startswith(prefix) and "externalId" in record


def _metadata(store: CDFStore, wanted: Any) -> Predicate:
    if not isinstance(wanted, dict):
        raise bad_request("filter metadata must be an object")
    return lambda record: metadata_matches(record, wanted)


def _ids_in(store: CDFStore, kind: str, refs: Any, where: str) -> set[int]:
    if not isinstance(refs, list):
        raise bad_request(f"filter {where} must be a list of {{id}} / {{externalId}}")
    table = store.tables[kind]
    found = {table.lookup(parse_identifier(ref)) for ref in refs}
    found.discard(None)
    return found  # type: ignore[return-value]


def _data_sets(store: CDFStore, refs: Any) -> Predicate:
    wanted = _ids_in(store, "datasets", refs, "dataSetIds")
    return lambda record: record.get("dataSetId") in wanted


def _subtree_ids(store: CDFStore, refs: Any) -> set[int]:
    roots = _ids_in(store, "assets", refs, "assetSubtreeIds")
    return store.subtree(roots)


def _asset_xids_to_ids(store: CDFStore, xids: Any) -> set[int]:
    if not isinstance(xids, list):
        raise bad_request("filter assetExternalIds must be a list of strings")
    table = store.tables["assets"]
    return {table.by_xid[xid] for xid in xids if xid in table.by_xid}


def _common() -> dict[str, FilterBuilder]:
    return {
        "externalIdPrefix": _xid_prefix,
        "metadata": _metadata,
        "dataSetIds": _data_sets,
        "createdTime": _field_range("createdTime"),
        "lastUpdatedTime": _field_range("lastUpdatedTime"),
    }


def _asset_parents(store: CDFStore, ids: Any) -> Predicate:
    wanted = set(ids)
    return lambda record: record.get("parentId") in wanted


def _asset_parent_xids(store: CDFStore, xids: Any) -> Predicate:
    ids = _asset_xids_to_ids(store, xids)
    return lambda record: record.get("parentId") in ids


def _asset_roots(store: CDFStore, refs: Any) -> Predicate:
    wanted = _ids_in(store, "assets", refs, "rootIds")
    return lambda record: record.get("rootId") in wanted


def _asset_subtrees(store: CDFStore, refs: Any) -> Predicate:
    wanted = _subtree_ids(store, refs)
    return lambda record: record["id"] in wanted


def _asset_labels(store: CDFStore, labels: Any) -> Predicate:
    if not isinstance(labels, dict) or len(labels) != 1:
        raise bad_request("filter labels must be {'containsAny': [...]} or {'containsAll': [...]}")
    mode, refs = next(iter(labels.items()))
    wanted = {ref["externalId"] for ref in refs}

    def matches(record: Record) -> bool:
        have = {label["externalId"] for label in record.get("labels") or []}
        return bool(have & wanted) if mode == "containsAny" else wanted <= have

    return matches


ASSET_FILTERS: dict[str, FilterBuilder] = {
    **_common(),
    "name": _field_equals("name"),
    "source": _field_equals("source"),
    "parentIds": _asset_parents,
    "parentExternalIds": _asset_parent_xids,
    "rootIds": _asset_roots,
    "assetSubtreeIds": _asset_subtrees,
    "root": lambda store, root: lambda record: ("parentId" not in record) == bool(root),
    "labels": _asset_labels,
}


def _linked_assets(field: str) -> Callable[[set[int]], Predicate]:
    if field == "assetIds":
        return lambda ids: lambda record: bool(ids.intersection(record.get("assetIds") or ()))
    return lambda ids: lambda record: record.get("assetId") in ids


def _link_filters(field: str) -> dict[str, FilterBuilder]:
    linked = _linked_assets(field)
    return {
        "assetIds": lambda store, ids: linked(set(ids)),
        "assetExternalIds": lambda store, xids: linked(_asset_xids_to_ids(store, xids)),
        "assetSubtreeIds": lambda store, refs: linked(_subtree_ids(store, refs)),
    }


def _active_at(store: CDFStore, bounds: Any) -> Predicate:
    low, high = bounds.get("min"), bounds.get("max")

    def matches(record: Record) -> bool:
        start, end = record.get("startTime"), record.get("endTime")
        return (high is None or (start is not None and start <= high)) and (low is None or end is None or end >= low)

    return matches


EVENT_FILTERS: dict[str, FilterBuilder] = {
    **_common(),
    **_link_filters("assetIds"),
    "type": _field_equals("type"),
    "subtype": _field_equals("subtype"),
    "source": _field_equals("source"),
    "startTime": _field_range("startTime"),
    "endTime": _field_range("endTime"),
    "activeAtTime": _active_at,
}


def _root_assets(store: CDFStore, refs: Any) -> Predicate:
    roots = _ids_in(store, "assets", refs, "rootAssetIds")

    def matches(record: Record) -> bool:
        asset = store.tables["assets"].get(record.get("assetId", 0))
        return asset is not None and asset["rootId"] in roots

    return matches


TIMESERIES_FILTERS: dict[str, FilterBuilder] = {
    **_common(),
    **_link_filters("assetId"),
    "name": _field_equals("name"),
    "unit": _field_equals("unit"),
    "unitExternalId": _field_equals("unitExternalId"),
    "isString": _field_equals("isString"),
    "isStep": _field_equals("isStep"),
    "rootAssetIds": _root_assets,
}

DATASET_FILTERS: dict[str, FilterBuilder] = {**_common(), "writeProtected": _field_equals("writeProtected")}
EXTPIPE_FILTERS: dict[str, FilterBuilder] = {**_common(), "name": _field_equals("name")}

FILTERS: dict[str, dict[str, FilterBuilder]] = {
    "assets": ASSET_FILTERS,
    "events": EVENT_FILTERS,
    "timeseries": TIMESERIES_FILTERS,
    "datasets": DATASET_FILTERS,
    "extpipes": EXTPIPE_FILTERS,
}


def compile_filter(store: CDFStore, kind: str, filter_body: Any) -> Predicate:
    """Turn a list `filter` object into one predicate (400 on an unknown filter field)."""
    if filter_body is None:
        return lambda record: True
    if not isinstance(filter_body, Mapping):
        raise bad_request("filter must be an object")
    builders = FILTERS[kind]
    predicates: list[Predicate] = []
    for name, value in filter_body.items():
        if value is None:
            continue
        builder = builders.get(name)
        if builder is None:
            raise bad_request(f"Unsupported filter field {name!r} for {kind} (FakeCDF supports {sorted(builders)})")
        predicates.append(builder(store, value))
    if not predicates:
        return lambda record: True
    if len(predicates) == 1:
        return predicates[0]
    return lambda record: all(predicate(record) for predicate in predicates)
