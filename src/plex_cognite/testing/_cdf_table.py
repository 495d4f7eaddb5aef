"""Generic pieces of FakeCDF's classic resources.

A table indexed by id and externalId, identifier parsing, field validation, update operations
(`set` / `setNull` / `add` / `remove`) and cursor paging.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plex_cognite.testing._cdf_errors import CDFError, Identifier, bad_request, unique_identifiers

Record = dict[str, Any]
"""One stored object, shaped as the API returns it (copy-on-write: updates store a new dict)."""

Predicate = Callable[[Record], bool]

MAX_ITEMS = 1000
"""Item limit of create / byids / update / delete requests on classic resources."""

MAX_LIST_LIMIT = 1000


@dataclass(frozen=True)
class Field:
    """How one writable field is validated and which update operations it accepts.

    `kind` is one of: str, int, bool, number, metadata, int_list, labels, json.
    """

    kind: str
    ops: frozenset[str] = frozenset({"set"})
    required: bool = False
    max_len: int | None = None


SET = frozenset({"set"})
SET_NULL = frozenset({"set", "setNull"})
LIST_OPS = frozenset({"set", "add", "remove"})
NONE: frozenset[str] = frozenset()


class Table:
    """Objects of one resource type, indexed by numeric id and by externalId; iteration order is id order."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.by_id: dict[int, Record] = {}
        self.by_xid: dict[str, int] = {}
        self.by_instance: dict[str, int] = {}
        self._order: list[int] | None = []

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, object_id: int) -> Record | None:
        """Return the stored object with this id, or None."""
        return self.by_id.get(object_id)

    def lookup(self, identifier: tuple[str, int | str]) -> int | None:
        """Map a parsed identifier to an id, or None when unknown."""
        key, value = identifier
        if key == "id":
            return value if isinstance(value, int) and value in self.by_id else None
        if key == "instanceId":
            return self.by_instance.get(str(value))
        return self.by_xid.get(str(value))

    def put(self, record: Record) -> None:
        """Insert or replace an object (keeping the externalId index right)."""
        object_id: int = record["id"]
        old = self.by_id.get(object_id)
        if old is not None and old.get("externalId") is not None and old.get("externalId") != record.get("externalId"):
            del self.by_xid[old["externalId"]]
        if old is None:
            if self._order is not None and self._order and self._order[-1] > object_id:
                self._order = None
            elif self._order is not None:
                self._order.append(object_id)
        self.by_id[object_id] = record
        if record.get("externalId") is not None:
            self.by_xid[record["externalId"]] = object_id
        if record.get("instanceId") is not None:
            self.by_instance[instance_key(record["instanceId"])] = object_id

    def remove(self, object_id: int) -> Record | None:
        """Delete an object; returns it, or None when it did not exist."""
        record = self.by_id.pop(object_id, None)
        if record is not None:
            if record.get("externalId") is not None:
                self.by_xid.pop(record["externalId"], None)
            if record.get("instanceId") is not None:
                self.by_instance.pop(instance_key(record["instanceId"]), None)
            self._order = None
        return record

    def clear(self) -> None:
        """Delete everything."""
        self.by_id.clear()
        self.by_xid.clear()
        self.by_instance.clear()
        self._order = []

    def order(self) -> list[int]:
        """Ids in ascending order (cached)."""
        if self._order is None:
            self._order = sorted(self.by_id)
        return self._order

    def page(
        self, predicate: Predicate, limit: int, cursor: str | None, partition: str | None
    ) -> tuple[list[Record], str | None]:
        """Return up to `limit` matching objects after `cursor` (within `partition` "i/N"), and the next cursor."""
        order = self.order()
        if cursor:
            state = decode_cursor(cursor)
            after, end = state.get("after"), state.get("end")
            start = bisect.bisect_right(order, after) if isinstance(after, int) else 0
        else:
            start, end = _partition_bounds(order, partition)
        out: list[Record] = []
        position = start
        while position < len(order):
            object_id = order[position]
            if end is not None and object_id >= end:
                break
            record = self.by_id[object_id]
            position += 1
            if predicate(record):
                out.append(record)
                if len(out) == limit:
                    break
        more = position < len(order) and (end is None or order[position] < end)
        return out, encode_cursor({"after": order[position - 1], "end": end}) if more else None


def _partition_bounds(order: Sequence[int], partition: str | None) -> tuple[int, int | None]:
    if not partition:
        return 0, None
    try:
        index_text, count_text = partition.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise bad_request(f"Invalid partition {partition!r}; expected 'i/N'") from None
    if not 1 <= index <= count:
        raise bad_request(f"Invalid partition {partition!r}; i must be within 1..N")
    size = -(-len(order) // count)
    start = min((index - 1) * size, len(order))
    stop = index * size
    return start, (order[stop] if stop < len(order) else None)


def encode_cursor(state: Mapping[str, Any]) -> str:
    """Opaque cursor text for a paging state."""
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """Read back a cursor made by `encode_cursor` (400 when it is not one)."""
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise bad_request(f"Invalid cursor {cursor!r}") from None
    if not isinstance(state, dict):
        raise bad_request(f"Invalid cursor {cursor!r}")
    return state


# -- request bodies ------------------------------------------------------------------------------------------------


def as_object(body: object) -> dict[str, Any]:
    """The request body as a JSON object (400 otherwise)."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def body_items(body: object, *, limit: int = MAX_ITEMS, key: str = "items") -> list[dict[str, Any]]:
    """Return `body["items"]`, enforcing it is a list of 1..limit objects."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    items = body.get(key)
    if not isinstance(items, list):
        raise bad_request(f"'{key}' must be a list")
    if not 1 <= len(items) <= limit:
        raise bad_request(f"{key} size must be between 1 and {limit}, got {len(items)}")
    for item in items:
        if not isinstance(item, dict):
            raise bad_request(f"Every element of '{key}' must be a JSON object")
    return items


def parse_identifier(item: Mapping[str, Any]) -> tuple[str, int | str]:
    """Parse `{"id": int}` or `{"externalId": str}` (400 otherwise)."""
    if "id" in item and item["id"] is not None:
        value = item["id"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad_request(f"Invalid id {value!r}: ids are positive integers")
        return ("id", value)
    if "externalId" in item and item["externalId"] is not None:
        xid = item["externalId"]
        if not isinstance(xid, str) or not xid:
            raise bad_request(f"Invalid externalId {xid!r}")
        return ("externalId", xid)
    if "instanceId" in item and item["instanceId"] is not None:
        instance = item["instanceId"]
        if not isinstance(instance, dict) or not all(isinstance(instance.get(k), str) for k in ("space", "externalId")):
            raise bad_request(f"Invalid instanceId {instance!r}: expected {{'space': str, 'externalId': str}}")
        return ("instanceId", instance_key(instance))
    raise bad_request("Each item must have either 'id', 'externalId' or 'instanceId'")


def instance_key(instance_id: Mapping[str, Any]) -> str:
    """The index key of an `{"space", "externalId"}` instance id."""
    return json.dumps([instance_id["space"], instance_id["externalId"]], separators=(",", ":"))


def as_identifier(identifier: tuple[str, int | str]) -> Identifier:
    """Turn a parsed identifier back into `{"id": ..}` / `{"externalId": ..}` / `{"instanceId": {..}}`."""
    if identifier[0] == "instanceId":
        space, xid = json.loads(str(identifier[1]))
        return {"instanceId": {"space": space, "externalId": xid}}
    return {identifier[0]: identifier[1]}


def resolve_all(
    table: Table, items: Iterable[Mapping[str, Any]], *, ignore_unknown: bool
) -> list[tuple[tuple[str, int | str], int | None]]:
    """Resolve identifiers to ids; raise 400 `missing` for unknown ones unless `ignore_unknown`."""
    resolved = [(ident, table.lookup(ident)) for ident in map(parse_identifier, items)]
    seen: dict[tuple[str, int | str], int] = {}
    duplicates = []
    for ident, _ in resolved:
        seen[ident] = seen.get(ident, 0) + 1
        if seen[ident] == 2:
            duplicates.append(as_identifier(ident))
    if duplicates:
        raise CDFError(400, "Duplicate identifiers in request", duplicated=duplicates)
    missing = [as_identifier(ident) for ident, object_id in resolved if object_id is None]
    if missing and not ignore_unknown:
        raise CDFError(400, "Ids not found", missing=unique_identifiers(missing))
    return resolved


# -- field validation ----------------------------------------------------------------------------------------------


def check_value(resource: str, name: str, spec: Field, value: Any) -> Any:
    """Validate one field value (400 on a type or size problem); returns the value to store."""
    kind = spec.kind
    where = f"{resource}.{name}"
    if kind == "str":
        if not isinstance(value, str):
            raise bad_request(f"{where} must be a string, got {type(value).__name__}")
        if spec.max_len is not None and len(value) > spec.max_len:
            raise bad_request(f"{where} is longer than {spec.max_len} characters")
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad_request(f"{where} must be an integer, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise bad_request(f"{where} must be a boolean, got {value!r}")
    elif kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise bad_request(f"{where} must be a number, got {value!r}")
    elif kind == "metadata":
        _check_metadata(where, value)
        return dict(value)
    elif kind == "int_list":
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise bad_request(f"{where} must be a list of integer ids (numeric ids only), got {value!r}")
        return list(dict.fromkeys(value))
    elif kind == "labels":
        if not isinstance(value, list) or not all(
            isinstance(v, dict) and isinstance(v.get("externalId"), str) for v in value
        ):
            raise bad_request(f"{where} must be a list of {{'externalId': str}}")
        return [{"externalId": v["externalId"]} for v in value]
    return value


def _check_metadata(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise bad_request(f"{where} must be an object of string keys and string values")
    if all(type(item) is str and len(item) <= 10240 and len(key) <= 128 for key, item in value.items()):
        return
    for key, item in value.items():
        if not isinstance(item, str):
            raise bad_request(f"{where}[{key!r}] must be a string, got {type(item).__name__}")
        if len(key) > 128:
            raise bad_request(f"{where} key {key[:20]!r}... is longer than 128 characters")
        if len(item) > 10240:
            raise bad_request(f"{where}[{key!r}] is longer than 10240 characters")


def check_create(resource: str, fields: Mapping[str, Field], item: Mapping[str, Any]) -> Record:
    """Validate a create item against `fields`; returns the stored form (None values dropped)."""
    string_limits, integer_names, required = _schema(fields)
    record: Record = {}
    for name, value in item.items():
        if value is None:
            continue
        # Fast paths for the common, valid cases (bulk creates spend most of their time here).
        limit = string_limits.get(name)
        if (limit is not None and type(value) is str and len(value) <= limit) or (
            name in integer_names and type(value) is int
        ):
            record[name] = value
        else:
            spec = fields.get(name)
            if spec is None:
                raise bad_request(f"Unrecognized field {name!r} in {resource} create")
            record[name] = check_value(resource, name, spec, value)
    if required and not required <= record.keys():
        raise bad_request(f"{resource}.{sorted(required - record.keys())[0]} is required")
    return record


_SCHEMAS: dict[int, tuple[dict[str, int], frozenset[str], frozenset[str]]] = {}


def _schema(fields: Mapping[str, Field]) -> tuple[dict[str, int], frozenset[str], frozenset[str]]:
    """Per field set: max length of each string field, the integer fields, the required fields (cached)."""
    schema = _SCHEMAS.get(id(fields))
    if schema is None:
        strings = {name: spec.max_len or 1 << 62 for name, spec in fields.items() if spec.kind == "str"}
        integers = frozenset(name for name, spec in fields.items() if spec.kind == "int")
        required = frozenset(name for name, spec in fields.items() if spec.required)
        schema = _SCHEMAS[id(fields)] = (strings, integers, required)
    return schema


def apply_update(resource: str, fields: Mapping[str, Field], record: Record, update: Any) -> Record:
    """Apply one `update` object (`{"field": {"set"|"setNull"|"add"|"remove": ...}}`) to a copy of `record`."""
    if not isinstance(update, dict):
        raise bad_request(f"{resource} update must be an object")
    new = dict(record)
    for name, operation in update.items():
        spec = fields.get(name)
        if spec is None or not spec.ops:
            raise bad_request(f"Field {name!r} of {resource} cannot be updated")
        if not isinstance(operation, dict) or not operation:
            raise bad_request(f"Update of {resource}.{name} must be an object with one of {sorted(spec.ops)}")
        unknown = set(operation) - spec.ops
        if unknown:
            raise bad_request(
                f"Operation {sorted(unknown)} is not allowed on {resource}.{name}; use {sorted(spec.ops)}"
            )
        if ("set" in operation or "setNull" in operation) and len(operation) > 1:
            raise bad_request(f"Update of {resource}.{name}: set / setNull cannot be combined with other operations")
        if "setNull" in operation:
            if operation["setNull"] is not True:
                raise bad_request(f"setNull on {resource}.{name} must be true")
            new.pop(name, None)
        elif "set" in operation:
            if operation["set"] is None:
                raise bad_request(f"set on {resource}.{name} needs a value; use setNull to clear it")
            new[name] = check_value(resource, name, spec, operation["set"])
        else:  # add and / or remove: remove first, then add
            if "remove" in operation:
                new[name] = _remove(resource, name, spec, new.get(name), operation["remove"])
            if "add" in operation:
                new[name] = _add(resource, name, spec, new.get(name), operation["add"])
        if new.get(name) in ({}, []) and spec.kind in ("int_list", "labels"):
            new.pop(name)
    return new


def _add(resource: str, name: str, spec: Field, current: Any, value: Any) -> Any:
    added = check_value(resource, name, spec, value)
    if spec.kind == "metadata":
        return {**(current or {}), **added}
    if spec.kind == "labels":
        have = {label["externalId"] for label in current or []}
        return list(current or []) + [label for label in added if label["externalId"] not in have]
    return list(dict.fromkeys(list(current or []) + added))


def _remove(resource: str, name: str, spec: Field, current: Any, value: Any) -> Any:
    if spec.kind == "metadata":
        if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
            raise bad_request(f"remove on {resource}.{name} takes a list of keys")
        return {key: item for key, item in (current or {}).items() if key not in set(value)}
    removed = check_value(resource, name, spec, value)
    if spec.kind == "labels":
        gone = {label["externalId"] for label in removed}
        return [label for label in current or [] if label["externalId"] not in gone]
    return [item for item in current or [] if item not in set(removed)]


# -- filters -------------------------------------------------------------------------------------------------------


def in_range(value: Any, bounds: Any, where: str) -> bool:
    """`{"min": a, "max": b}` inclusive range test (`{"isNull": true}` matches missing values)."""
    if not isinstance(bounds, dict):
        raise bad_request(f"filter {where} must be an object with min/max")
    if bounds.get("isNull") is True:
        return value is None
    if value is None:
        return False
    low, high = bounds.get("min"), bounds.get("max")
    return (low is None or value >= low) and (high is None or value <= high)


def metadata_matches(record: Record, wanted: Any) -> bool:
    """All key/value pairs of `wanted` are in the record's metadata."""
    metadata = record.get("metadata") or {}
    return all(metadata.get(key) == value for key, value in wanted.items())


def limit_of(body: Mapping[str, Any], default: int = 100, maximum: int = MAX_LIST_LIMIT) -> int:
    """The list `limit` (default 100), 400 when outside 1..maximum."""
    limit = body.get("limit", default)
    if limit is None:
        return default
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= maximum:
        raise bad_request(f"limit must be an integer between 1 and {maximum}, got {limit!r}")
    return limit
