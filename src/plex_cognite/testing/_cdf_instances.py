"""Data modeling in FakeCDF: spaces and node instances written through the Core Data Model views.

- `POST /models/spaces` (apply), `/models/spaces/byids`, `GET /models/spaces`.
- `POST /models/instances` (apply): nodes with view sources, `replace`, `autoCreateDirectRelations`,
  `existingVersion` (a mismatch is CDF's 400 "A version conflict caused the ingest to fail." unless
  `skipOnVersionConflict`), property validation
  against the views (400). A request is atomic: any error leaves every node untouched.
- `/models/instances/byids`, `/models/instances/list` (filters `equals`, `in`, `prefix`, `hasData`, `and`, `or`,
  `not`; `sources` also require data in those views), `/models/instances/delete`.
- A CogniteTimeSeries node gets a synced time series (an id and its `instanceId`, no externalId), so datapoints are
  inserted and retrieved by `instanceId` through the ordinary datapoints endpoints.

Properties are kept flat per node (the CDM views map same-named properties to the same containers), with the set of
views written through; a read through a view returns that view's properties.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from plex_cognite.testing._cdf_errors import CDFError, bad_request
from plex_cognite.testing._cdf_table import (
    Record,
    as_object,
    body_items,
    decode_cursor,
    encode_cursor,
    instance_key,
    limit_of,
)
from plex_cognite.testing._cdf_views import (
    CDM_SPACE,
    CDM_VERSION,
    SYSTEM_SPACES,
    VIEWS,
    check_properties,
    direct_targets,
    has_data_in,
    missing_required,
    view_key,
)

if TYPE_CHECKING:
    from plex_cognite.testing._cdf_store import CDFStore

MAX_APPLY = 1000
VERSION_CONFLICT = "A version conflict caused the ingest to fail."
"""CDF's answer (a 400) when an `existingVersion` does not match and `skipOnVersionConflict` is false."""
NodeKey = tuple[str, str]
_Predicate = Callable[[Record], bool]


class InstanceStore:
    """Spaces and nodes (state lives here; the owning `CDFStore` provides the lock, clock, ids and time series)."""

    def __init__(self, store: CDFStore) -> None:
        self._store = store
        self.spaces: dict[str, Record] = {}
        self.nodes: dict[NodeKey, Record] = {}

    def clear(self) -> None:
        """Forget every space and node."""
        self.spaces.clear()
        self.nodes.clear()

    # -- spaces ----------------------------------------------------------------------------------------------------

    def apply_spaces(self, body: object) -> list[Record]:
        """`POST /models/spaces`: create or update spaces."""
        items = body_items(body, limit=100)
        for item in items:
            space = item.get("space")
            if not isinstance(space, str) or not space or space in SYSTEM_SPACES:
                raise bad_request(f"Invalid space {space!r}")
        now = self._store.now_ms()
        out = []
        for item in items:
            old = self.spaces.get(item["space"])
            record = {
                "space": item["space"],
                "name": item.get("name"),
                "description": item.get("description"),
                "isGlobal": False,
                "createdTime": old["createdTime"] if old else now,
                "lastUpdatedTime": now,
            }
            self.spaces[item["space"]] = record
            out.append(dict(record))
        return out

    def _space_records(self, include_global: bool) -> list[Record]:
        out = [dict(record) for _, record in sorted(self.spaces.items())]
        if include_global:
            out.extend(
                {"space": s, "isGlobal": True, "createdTime": 0, "lastUpdatedTime": 0, "name": s} for s in SYSTEM_SPACES
            )
        return out

    def retrieve_spaces(self, body: object) -> list[Record]:
        """`POST /models/spaces/byids` (unknown spaces are left out)."""
        wanted = {item.get("space") for item in body_items(body)}
        return [record for record in self._space_records(True) if record["space"] in wanted]

    def list_spaces(self, include_global: bool) -> list[Record]:
        """`GET /models/spaces`."""
        return self._space_records(include_global)

    # -- apply -----------------------------------------------------------------------------------------------------

    def apply(self, body: object) -> list[Record]:
        """`POST /models/instances`: validate every node, then write them all (or nothing)."""
        options = as_object(body)
        items = body_items(body, limit=MAX_APPLY)
        replace = bool(options.get("replace", False))
        skip_conflicts = bool(options.get("skipOnVersionConflict", False))
        auto_create = bool(options.get("autoCreateDirectRelations", True))
        planned: list[tuple[NodeKey, list[tuple[str, dict[str, Any]]], int | None]] = []
        seen: set[NodeKey] = set()
        for item in items:
            key, sources, existing_version = self._parse_node(item)
            if key in seen:
                raise bad_request(f"Duplicate node {key[0]}:{key[1]} in one request")
            seen.add(key)
            planned.append((key, sources, existing_version))
        conflicts = [
            key
            for key, _, version in planned
            if version is not None and key in self.nodes and self.nodes[key]["version"] != version
        ]
        if conflicts and not skip_conflicts:
            raise CDFError(400, VERSION_CONFLICT)
        for key, sources, _ in planned:
            if key not in self.nodes:
                for view, properties in sources:
                    missing = missing_required(view, properties)
                    if missing:
                        raise bad_request(f"Node {key[0]}:{key[1]}: required properties {missing} of {view} not set")
        targets = {
            target for _, sources, _ in planned for view, props in sources for target in direct_targets(view, props)
        }
        absent = sorted(t for t in targets if t not in self.nodes and t not in seen)
        for space, _ in absent:
            self._require_space(space)
        if absent and not auto_create:
            named = ", ".join(f"{space}:{xid}" for space, xid in absent)
            raise bad_request(f"Cannot create direct relations to nodes that do not exist: {named}")
        now = self._store.now_ms()
        out = [
            self._write(key, sources, replace=replace, now=now)
            if key not in conflicts
            else self._result(self.nodes[key], modified=False)
            for key, sources, _ in planned
        ]
        for target in absent:
            self.nodes[target] = self._new_node(target, now)
        return out

    def _parse_node(self, item: Mapping[str, Any]) -> tuple[NodeKey, list[tuple[str, dict[str, Any]]], int | None]:
        if item.get("instanceType") != "node":
            raise bad_request(f"FakeCDF applies nodes only, got instanceType {item.get('instanceType')!r}")
        space, xid = item.get("space"), item.get("externalId")
        if not isinstance(space, str) or not isinstance(xid, str) or not xid or len(xid) > 255:
            raise bad_request(f"Invalid node identifier space={space!r}, externalId={xid!r}")
        self._require_space(space)
        version = item.get("existingVersion")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
            raise bad_request(f"Node {space}:{xid}: existingVersion must be a non-negative integer")
        raw_sources = item.get("sources") or []
        if not isinstance(raw_sources, list):
            raise bad_request(f"Node {space}:{xid}: sources must be a list")
        sources = []
        for source in raw_sources:
            if not isinstance(source, Mapping):
                raise bad_request(f"Node {space}:{xid}: every source must be an object")
            view = view_key(source.get("source"))
            sources.append((view, check_properties(view, source.get("properties", {}), f"Node {space}:{xid}")))
        return (space, xid), sources, version

    def _require_space(self, space: str) -> None:
        if space not in self.spaces:
            raise bad_request(f"Space '{space}' does not exist")

    def _new_node(self, key: NodeKey, now: int) -> Record:
        return {
            "space": key[0],
            "externalId": key[1],
            "version": 1,
            "createdTime": now,
            "lastUpdatedTime": now,
            "views": [],
            "props": {},
        }

    def _write(self, key: NodeKey, sources: list[tuple[str, dict[str, Any]]], *, replace: bool, now: int) -> Record:
        old = self.nodes.get(key)
        node = copy.deepcopy(old) if old else self._new_node(key, now)
        props: dict[str, Any] = node["props"]
        views: list[str] = node["views"]
        for view, properties in sources:
            if replace:
                for name in VIEWS[view]:
                    props.pop(name, None)
            for name, value in properties.items():
                if value is None:
                    props.pop(name, None)
                else:
                    props[name] = copy.deepcopy(value)
            if view not in views:
                views.append(view)
        if old is not None and node == old:
            return self._result(old, modified=False)
        if old is not None:
            node["version"] = old["version"] + 1
            node["lastUpdatedTime"] = now
        self.nodes[key] = node
        self._sync_series(node)
        return self._result(node, modified=True)

    @staticmethod
    def _result(node: Record, *, modified: bool) -> Record:
        return {
            "instanceType": "node",
            "space": node["space"],
            "externalId": node["externalId"],
            "version": node["version"],
            "wasModified": modified,
            "createdTime": node["createdTime"],
            "lastUpdatedTime": node["lastUpdatedTime"],
        }

    def _sync_series(self, node: Record) -> None:
        """Keep the synced time series of a CogniteTimeSeries node (datapoints by instance id) in step."""
        if not has_data_in(set(node["views"]), "CogniteTimeSeries"):
            return
        table = self._store.tables["timeseries"]
        instance_id = {"space": node["space"], "externalId": node["externalId"]}
        series_id = table.lookup(("instanceId", instance_key(instance_id)))
        props = node["props"]
        record: Record = dict(table.by_id[series_id]) if series_id is not None else {"id": self._store.new_id()}
        record.update(
            instanceId=instance_id,
            isStep=bool(props.get("isStep", False)),
            isString=props.get("type") == "string",
            type=props.get("type", "numeric"),
            createdTime=record.get("createdTime", node["createdTime"]),
            lastUpdatedTime=node["lastUpdatedTime"],
        )
        for name in ("name", "description"):
            if props.get(name) is not None:
                record[name] = props[name]
        table.put(record)

    # -- read ------------------------------------------------------------------------------------------------------

    def render(self, node: Record, views: list[str]) -> Record:
        """A node as the API returns it, with the properties of the requested views that it has data in."""
        out: Record = {
            "instanceType": "node",
            "space": node["space"],
            "externalId": node["externalId"],
            "version": node["version"],
            "createdTime": node["createdTime"],
            "lastUpdatedTime": node["lastUpdatedTime"],
            "properties": {},
        }
        written = set(node["views"])
        for view in views:
            if has_data_in(written, view):
                values = {n: copy.deepcopy(v) for n, v in node["props"].items() if n in VIEWS[view]}
                out["properties"].setdefault(CDM_SPACE, {})[f"{view}/{CDM_VERSION}"] = values
        return out

    def retrieve(self, body: object) -> list[Record]:
        """`POST /models/instances/byids` (unknown nodes are left out, as in CDF)."""
        items = body_items(body)
        views = _views_of(as_object(body).get("sources"))
        out = []
        for item in items:
            if item.get("instanceType", "node") != "node":
                continue
            node = self.nodes.get((str(item.get("space")), str(item.get("externalId"))))
            if node is not None:
                out.append(self.render(node, views))
        return out

    def list_page(self, body: object) -> tuple[list[Record], str | None]:
        """`POST /models/instances/list`: filter, sources, limit and cursor (nodes only)."""
        options = as_object(body)
        if options.get("instanceType", "node") != "node":
            return [], None
        views = _views_of(options.get("sources"))
        predicate = _compile(options.get("filter"))
        limit = limit_of(options, default=1000, maximum=1000)
        after = decode_cursor(options["cursor"]).get("after") if options.get("cursor") else None
        keys = sorted(self.nodes)
        page: list[Record] = []
        last: NodeKey | None = None
        for key in keys:
            if after is not None and list(key) <= after:
                continue
            node = self.nodes[key]
            if all(has_data_in(set(node["views"]), view) for view in views) and predicate(node):
                page.append(self.render(node, views))
                if len(page) == limit:
                    last = key
                    break
        more = last is not None and last != keys[-1]
        return page, encode_cursor({"after": list(last)}) if more and last is not None else None

    def delete(self, body: object) -> list[Record]:
        """`POST /models/instances/delete`: remove nodes (and their synced time series with its datapoints)."""
        items = body_items(body)
        deleted = []
        table = self._store.tables["timeseries"]
        for item in items:
            key = (str(item.get("space")), str(item.get("externalId")))
            if self.nodes.pop(key, None) is None:
                continue
            series_id = table.lookup(("instanceId", instance_key({"space": key[0], "externalId": key[1]})))
            if series_id is not None:
                table.remove(series_id)
                self._store.datapoints.drop(series_id)
            deleted.append({"instanceType": "node", "space": key[0], "externalId": key[1]})
        return deleted

    # -- persistence -----------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Spaces and nodes as JSON."""
        return {"spaces": list(self.spaces.values()), "nodes": list(self.nodes.values())}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Load a `snapshot()`."""
        self.spaces = {record["space"]: record for record in state.get("spaces", [])}
        self.nodes = {(node["space"], node["externalId"]): node for node in state.get("nodes", [])}


def _views_of(sources: object) -> list[str]:
    if sources is None:
        return []
    if not isinstance(sources, list):
        raise bad_request("sources must be a list")
    return [view_key(source.get("source") if isinstance(source, Mapping) else None) for source in sources]


def _value_of(node: Record, path: object) -> Any:
    """The value a filter property path names: `["node", "space"|"externalId"|...]` or `[space, "View/v1", prop]`."""
    if isinstance(path, list) and len(path) == 2 and path[0] == "node":
        return node.get(path[1])
    if isinstance(path, list) and len(path) == 3 and path[0] == CDM_SPACE:
        view = str(path[1]).split("/")[0]
        if view in VIEWS and has_data_in(set(node["views"]), view):
            return node["props"].get(path[2])
        return None
    raise bad_request(f"Unsupported filter property {path!r}")


def _compile(spec: object) -> _Predicate:
    if spec is None:
        return lambda node: True
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise bad_request(f"A filter is an object with exactly one operator, got {spec!r}")
    ((operator, arg),) = spec.items()
    if operator in ("and", "or"):
        parts = [_compile(part) for part in arg]
        combine = all if operator == "and" else any
        return lambda node: combine(part(node) for part in parts)
    if operator == "not":
        inner = _compile(arg)
        return lambda node: not inner(node)
    if operator == "hasData":
        views = [view_key(ref) for ref in arg]
        return lambda node: all(has_data_in(set(node["views"]), view) for view in views)
    if operator in ("equals", "in", "prefix"):
        path, value = arg.get("property"), arg.get("values" if operator == "in" else "value")
        if operator == "equals":
            return lambda node: bool(_value_of(node, path) == value)
        if operator == "in":
            return lambda node: _value_of(node, path) in value
        return lambda node: str(_value_of(node, path) or "").startswith(str(value))
    raise bad_request(f"FakeCDF does not support the filter {operator!r}")


__all__ = ["CDM_SPACE", "CDM_VERSION", "InstanceStore"]
