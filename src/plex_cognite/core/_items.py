"""Item identity and (de)serialisation for the state store (`state.deferred`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from plex_cognite.cdf.items import AssetItem, EventItem, RawRowItem, TimeSeriesItem
from plex_cognite.typing import JSONValue

__all__ = ["KeyedItem", "item_from_json", "item_key", "item_to_json"]


class KeyedItem(Protocol):
    """What the write paths need of an item: a content hash, and a key (`external_id`, or `key` for RAW rows)."""

    def content_hash(self) -> bytes:
        """A stable digest of what is written."""
        ...


def item_key(item: object) -> str:
    """The item's identity in CDF: its `external_id` (assets, events, series, datapoints) or RAW row `key`.

    Raises:
        TypeError: For an object with neither.
    """
    key = getattr(item, "external_id", None)
    if key is None:
        key = getattr(item, "key", None)
    if not isinstance(key, str):
        raise TypeError(f"{type(item).__name__} has no external_id or key")
    return key


_ITEM_KINDS: Mapping[str, type[Any]] = {
    "asset": AssetItem,
    "event": EventItem,
    "timeseries": TimeSeriesItem,
    "raw": RawRowItem,
}


def item_to_json(item: object) -> JSONValue:
    """Serialise an asset, event, time series or RAW item for the state store (`state.deferred`).

    Raises:
        TypeError: For other item types.
    """
    for kind, cls in _ITEM_KINDS.items():
        if isinstance(item, cls):
            fields = {f.name: _plain(getattr(item, f.name)) for f in dataclasses.fields(cls)}
            return {"kind": kind, "fields": fields}
    raise TypeError(f"cannot keep an item of type {type(item).__name__} in state")


def _plain(value: object) -> JSONValue:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value  # type: ignore[return-value]


def item_from_json(data: JSONValue) -> Any:
    """Rebuild an item serialised by `item_to_json`.

    Raises:
        ValueError: When `data` is not such a serialisation.
    """
    if not isinstance(data, dict) or data.get("kind") not in _ITEM_KINDS or not isinstance(data.get("fields"), dict):
        raise ValueError(f"not a serialised item: {data!r}")
    cls = _ITEM_KINDS[str(data["kind"])]
    fields: dict[str, Any] = dict(data["fields"])  # type: ignore[arg-type]
    if "asset_external_ids" in fields:
        fields["asset_external_ids"] = tuple(fields["asset_external_ids"] or ())
    return cls(**fields)
