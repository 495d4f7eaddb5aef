"""Asset hierarchy semantics of FakeCDF.

Parent resolution (in any order inside a request and against stored assets), rootId upkeep, moves through update,
and (recursive) delete.

Assets are stored with `parentId` and `rootId`; `parentExternalId` is added when rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plex_cognite.testing._cdf_errors import CDFError, Identifier, bad_request, unique_identifiers
from plex_cognite.testing._cdf_resources import ASSET_FIELDS
from plex_cognite.testing._cdf_table import Record, check_create

if TYPE_CHECKING:
    from plex_cognite.testing._cdf_store import CDFStore


def render(store: CDFStore, record: Record) -> Record:
    """The asset as the API returns it (with `parentExternalId` when the parent has one)."""
    out = dict(record)
    parent_id = record.get("parentId")
    if parent_id is not None:
        parent = store.tables["assets"].by_id.get(parent_id)
        if parent is not None and parent.get("externalId") is not None:
            out["parentExternalId"] = parent["externalId"]
    return out


def create(store: CDFStore, items: Sequence[dict[str, Any]]) -> list[Record]:
    """`POST /assets`: validate everything, resolve parents, assign ids and rootIds, then store."""
    table = store.tables["assets"]
    records = [check_create("assets", ASSET_FIELDS, item) for item in items]
    for record in records:
        if not record.get("name"):
            raise bad_request("assets.name must be a non-empty string")
        if "parentId" in record and "parentExternalId" in record:
            raise bad_request(f"Asset {record.get('externalId')!r}: set only one of parentId and parentExternalId")
    store.check_unique_xids("assets", records)
    in_batch = {record["externalId"]: record for record in records if "externalId" in record}
    missing: list[Identifier] = []
    for record in records:
        parent_xid = record.get("parentExternalId")
        if parent_xid is not None and parent_xid not in in_batch and parent_xid not in table.by_xid:
            missing.append({"externalId": parent_xid})
        parent_id = record.get("parentId")
        if parent_id is not None and parent_id not in table.by_id:
            missing.append({"id": parent_id})
    if missing:
        raise CDFError(400, "Reference to unknown parent", missing=unique_identifiers(missing))
    store.check_references("assets", records)
    _assign_ids_and_roots(store, records, in_batch)
    now = store.now_ms()
    for record in records:
        record["createdTime"] = record["lastUpdatedTime"] = now
        table.put(record)
        if "parentId" in record:
            store.children.setdefault(record["parentId"], set()).add(record["id"])
    store.version += 1
    return [render(store, record) for record in records]


def _assign_ids_and_roots(store: CDFStore, records: Sequence[Record], in_batch: dict[str, Record]) -> None:
    table = store.tables["assets"]
    for record in records:
        record["id"] = store.new_id()
    by_id = {record["id"]: record for record in records}
    for record in records:
        parent_xid = record.pop("parentExternalId", None)
        if parent_xid is not None:
            parent = in_batch.get(parent_xid)
            record["parentId"] = parent["id"] if parent is not None else table.by_xid[parent_xid]
    for record in records:
        chain: list[Record] = []
        current = record
        while "rootId" not in current:
            chain.append(current)
            parent_id = current.get("parentId")
            if parent_id is None:
                root = current["id"]
                break
            if len(chain) > len(records):
                raise bad_request(f"Asset {record.get('externalId')!r} is part of a parent cycle")
            current = by_id.get(parent_id) or table.by_id[parent_id]
        else:
            root = current["rootId"]
        for member in chain:
            member["rootId"] = root


def commit_update(store: CDFStore, items: Sequence[dict[str, Any]], new_records: list[Record]) -> list[Record]:
    """Finish `POST /assets/update`: resolve parent changes, refuse cycles, store, then fix rootIds."""
    table = store.tables["assets"]
    new_parent: dict[int, int] = {}
    missing: list[Identifier] = []
    for record, item in zip(new_records, items, strict=True):
        update = item.get("update") or {}
        if "parentId" in update and "parentExternalId" in update:
            raise bad_request("Update either parentId or parentExternalId, not both")
        parent_xid = record.pop("parentExternalId", None)
        if parent_xid is not None:
            if parent_xid not in table.by_xid:
                missing.append({"externalId": parent_xid})
                continue
            record["parentId"] = table.by_xid[parent_xid]
        if "parentId" in update or parent_xid is not None:
            if record["parentId"] not in table.by_id:
                missing.append({"id": record["parentId"]})
                continue
            new_parent[record["id"]] = record["parentId"]
    if missing:
        raise CDFError(400, "Reference to unknown parent", missing=unique_identifiers(missing))
    _refuse_cycles(store, new_parent)
    renamed = {record["id"]: record.get("externalId") for record in new_records}
    store.check_unique_xids("assets", new_records, renamed)
    store.check_references("assets", new_records)
    for asset_id, parent_id in new_parent.items():
        old_parent = table.by_id[asset_id].get("parentId")
        if old_parent is not None:
            store.children.get(old_parent, set()).discard(asset_id)
        store.children.setdefault(parent_id, set()).add(asset_id)
    store.commit("assets", new_records)
    for asset_id in new_parent:
        _reroot(store, asset_id)
    return [render(store, table.by_id[record["id"]]) for record in new_records]


def _refuse_cycles(store: CDFStore, new_parent: dict[int, int]) -> None:
    table = store.tables["assets"]
    for asset_id, parent_id in new_parent.items():
        current: int | None = parent_id
        steps = 0
        while current is not None:
            if current == asset_id:
                raise bad_request(f"Moving asset {asset_id} under {parent_id} would create a cycle")
            current = new_parent[current] if current in new_parent else table.by_id[current].get("parentId")
            steps += 1
            if steps > len(table.by_id) + 1:
                raise bad_request(f"Moving asset {asset_id} would create a cycle")


def _reroot(store: CDFStore, asset_id: int) -> None:
    table = store.tables["assets"]
    record = table.by_id[asset_id]
    parent_id = record.get("parentId")
    root = table.by_id[parent_id]["rootId"] if parent_id is not None else asset_id
    for member in store.subtree([asset_id]):
        if table.by_id[member].get("rootId") != root:
            table.put({**table.by_id[member], "rootId": root})


def delete(store: CDFStore, ids: set[int], *, recursive: bool) -> None:
    """`POST /assets/delete`: without `recursive`, an asset with children outside the request is refused."""
    if not recursive:
        for asset_id in ids:
            orphans = store.children.get(asset_id, set()) - ids
            if orphans:
                raise bad_request(
                    f"Asset {asset_id} has {len(orphans)} children; delete them too or set recursive=true"
                )
    doomed = store.subtree(ids) if recursive else ids
    table = store.tables["assets"]
    for asset_id in doomed:
        record = table.remove(asset_id)
        store.children.pop(asset_id, None)
        if record is not None and "parentId" in record:
            store.children.get(record["parentId"], set()).discard(asset_id)
    store.version += 1
