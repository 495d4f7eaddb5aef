"""One `model_fields_set` and one extras dict shared by consecutive records that would hold equal ones.

pydantic gives every model instance its own `__pydantic_fields_set__` and, for a model that keeps unknown fields,
its own `__pydantic_extra__` dict. For a Plex history row (about 30 keys) the set is about 2.2 KB and the extras dict
(the fields the models do not declare, mostly null) about 650 bytes: most of the record's memory, although nearly
every row of a window sends the same keys and the same nulls. The validator (`RowValidator`) therefore hands
consecutive records with equal field sets one `SharedFieldsSet`, and consecutive records with identical extras one
`SharedExtra`. `PlexRecord` gives a record its own copy before anything changes either in place (copy on write: its
`__setattr__`, `__delattr__` and `model_extra`), so both still mean, per record, what pydantic says they mean.

Extras are shared only when their values are `None`, strings, booleans or integers, compared by type and value in
key order: a shared value then means exactly what the record's own would (a float `-0.0` equals `0.0`, `1` equals
`True`, and a list could be changed in place, so records with such extras keep their own dict).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["SharedExtra", "SharedFieldsSet", "share_record_parts"]

_SHAREABLE = frozenset({type(None), str, bool, int})
_NULL_OR_TEXT = frozenset({type(None), str})


class SharedFieldsSet(set[str]):
    """A field-name set several records point at; never mutated in place (records copy it first)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(set(self))

    def __reduce__(self) -> tuple[type[set[str]], tuple[list[str]]]:
        # Copies and pickles are plain sets: a copy belongs to one record only.
        return set, (list(self),)


class SharedExtra(dict[str, Any]):
    """An extras dict several records point at; never mutated in place (records copy it first)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[list[tuple[str, Any]]]]:
        # Copies and pickles are plain dicts: a copy belongs to one record only.
        return dict, (list(self.items()),)


def share_record_parts(records: Iterable[Any]) -> None:
    """Point each record at its predecessor's field set and extras where they are equal (see the module docs).

    Only for `PlexRecord` instances (they copy a shared part before changing it).
    """
    fields_shared: SharedFieldsSet | None = None
    extra_shared: SharedExtra | None = None
    shared_keys: list[str] = []
    shared_types: list[type] | None = None  # None: only nulls and strings, which nothing of another type equals
    for record in records:
        fields = record.__pydantic_fields_set__
        if fields_shared is None or fields != fields_shared:
            fields_shared = SharedFieldsSet(fields)
        object.__setattr__(record, "__pydantic_fields_set__", fields_shared)
        extra = record.__pydantic_extra__
        if extra is None:
            continue
        if (
            extra_shared is None
            or extra != extra_shared
            or list(extra) != shared_keys
            or (shared_types is not None and list(map(type, extra.values())) != shared_types)
        ):
            types = list(map(type, extra.values()))
            if not _SHAREABLE.issuperset(types):
                continue
            extra_shared, shared_keys = SharedExtra(extra), list(extra)
            shared_types = None if _NULL_OR_TEXT.issuperset(types) else types
        object.__setattr__(record, "__pydantic_extra__", extra_shared)
