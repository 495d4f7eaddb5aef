"""One `model_fields_set` object shared by the records validated from rows with the same keys.

pydantic gives every model instance its own `__pydantic_fields_set__`: for a Plex history row (about 30 keys) that
set is about 2.2 KB, 60% of the record's memory, although nearly every row of a window sends the same keys. The
validator (`RowValidator`) therefore hands consecutive records with equal field sets one `SharedFieldsSet`, and
`PlexRecord.__setattr__` gives a record its own copy before pydantic adds a name to it (copy on write), so
`model_fields_set` still means, per record, the fields that were set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["SharedFieldsSet", "share_fields_sets"]


class SharedFieldsSet(set[str]):
    """A field-name set several records point at; never mutated in place (records copy it first)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(set(self))

    def __reduce__(self) -> tuple[type[set[str]], tuple[list[str]]]:
        # Copies and pickles are plain sets: a copy belongs to one record only.
        return set, (list(self),)


def share_fields_sets(records: Iterable[Any]) -> None:
    """Point each record whose field set equals its predecessor's at one shared set.

    Only for `PlexRecord` instances (their `__setattr__` copies a shared set before writing to it).
    """
    shared: SharedFieldsSet | None = None
    for record in records:
        fields = record.__pydantic_fields_set__
        if shared is None or fields != shared:
            shared = SharedFieldsSet(fields)
        object.__setattr__(record, "__pydantic_fields_set__", shared)
