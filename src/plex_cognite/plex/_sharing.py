"""One `model_fields_set` and one extras dict shared by consecutive records that would hold equal ones.

pydantic gives every model instance its own `__pydantic_fields_set__` and, for a model that keeps unknown fields,
its own `__pydantic_extra__` dict. For a Plex history row (about 30 keys) the set is about 2.2 KB and the extras dict
(the fields the models do not declare, mostly null) about 650 bytes: most of the record's memory, although nearly
every row of a window sends the same keys and the same nulls. `PlexRecord.model_post_init` therefore hands each
record, as pydantic creates it, the `SharedFieldsSet` of the record before it when their field sets are equal, and
its `SharedExtra` when their extras are identical, so the record's own copies are freed at once (a body of thousands
of rows never holds them all). `PlexRecord` gives a record its own copy before anything changes either in place
(copy on write: its `__setattr__`, `__delattr__` and `model_extra`), so both still mean, per record, what pydantic
says they mean.

Extras are shared only when their values are `None`, strings, booleans or integers, compared by type and value in
key order: a shared value then means exactly what the record's own would (a float `-0.0` equals `0.0`, `1` equals
`True`, and a list could be changed in place, so records with such extras keep their own dict).
"""

from __future__ import annotations

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


class _Shared:
    """The parts the last record was given, to hand on to the next record that would hold equal ones."""

    __slots__ = ("extra", "fields")

    def __init__(self) -> None:
        self.fields: SharedFieldsSet | None = None
        # (the dict, its keys, the types of its values or None when they are only nulls and strings, which nothing
        # of another type equals): one tuple, replaced whole, so a record validated in another thread sees it whole.
        self.extra: tuple[SharedExtra, list[str], list[type] | None] | None = None


_last = _Shared()


def share_record_parts(record: Any) -> None:
    """Point `record` at the shared field set and extras of the records before it where they are equal.

    Called for every `PlexRecord` as it is created (they copy a shared part before changing it).
    """
    fields = record.__pydantic_fields_set__
    shared_fields = _last.fields
    if shared_fields is None or fields != shared_fields:
        shared_fields = _last.fields = SharedFieldsSet(fields)
    object.__setattr__(record, "__pydantic_fields_set__", shared_fields)
    extra = record.__pydantic_extra__
    if extra is None:
        return
    last = _last.extra
    if (
        last is None
        or extra != last[0]
        or list(extra) != last[1]
        or (last[2] is not None and list(map(type, extra.values())) != last[2])
    ):
        types = list(map(type, extra.values()))
        if not _SHAREABLE.issuperset(types):
            return
        last = _last.extra = (SharedExtra(extra), list(extra), None if _NULL_OR_TEXT.issuperset(types) else types)
    object.__setattr__(record, "__pydantic_extra__", last[0])
