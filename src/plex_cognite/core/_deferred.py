"""Items held back in state (`StreamState.deferred`) until the asset they link to exists.

A record names the bound sink the item goes to, the item's type (`module:QualName`) and the item's own JSON
(`KeyedItem.to_json`), so any item type that implements `KeyedItem` can be held, not only the library's own. The type
is resolved only if it is a class with `from_json`; anything else is reported as unreadable and kept.
"""

from __future__ import annotations

import base64
import importlib
from dataclasses import dataclass

from plex_cognite.typing import JSONValue, KeyedItem

__all__ = ["HeldItem", "held_key", "held_record", "restore_held"]


@dataclass(frozen=True, slots=True)
class HeldItem:
    """A deferred item read back from state.

    Attributes:
        sink: The name of the bound sink it is written to.
        item: The item.
        digest: Its content hash when it was written with change detection (stored once it lands), else None.
    """

    sink: str
    item: KeyedItem
    digest: bytes | None


def held_key(sink: str, key: str) -> str:
    """The key of a held item in `StreamState.deferred` (one entry per sink and item key)."""
    return f"{sink}:{key}"


def held_record(sink: str, item: KeyedItem, digest: bytes | None) -> JSONValue:
    """The JSON kept in state for a deferred item."""
    cls = type(item)
    return {
        "sink": sink,
        "type": f"{cls.__module__}:{cls.__qualname__}",
        "item": item.to_json(),
        "hash": None if digest is None else base64.b64encode(digest).decode("ascii"),
    }


def restore_held(record: JSONValue) -> HeldItem:
    """Rebuild a held item from `held_record` output.

    Raises:
        ValueError: When the record is malformed or its type cannot be found or cannot rebuild the item.
    """
    if not isinstance(record, dict):
        raise ValueError(f"not a held item: {record!r:.200}")
    sink, type_name, digest = record.get("sink"), record.get("type"), record.get("hash")
    if not isinstance(sink, str) or not isinstance(type_name, str) or ":" not in type_name:
        raise ValueError(f"not a held item (needs 'sink' and 'type'): {record!r:.200}")
    module_name, _, qualname = type_name.partition(":")
    try:
        target: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"item type {type_name} cannot be found ({exc}); is the package that defines it installed?"
        ) from exc
    from_json = getattr(target, "from_json", None)
    if not isinstance(target, type) or not callable(from_json):
        raise ValueError(f"{type_name} is not an item type (a class with from_json)")
    item = from_json(record.get("item"))
    if not isinstance(item, KeyedItem):
        raise ValueError(f"{type_name}.from_json did not return an item with key, content_hash, to_json and from_json")
    return HeldItem(sink, item, None if not isinstance(digest, str) else base64.b64decode(digest))
