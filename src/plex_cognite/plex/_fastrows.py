"""The records pydantic would make of Plex rows of one known shape, made about twice as fast.

pydantic-core validates a production entry from JSON in about 8.5 us, most of it building Python objects from its own
parse tree (a plain `list[dict]` of the same rows costs 6 us). msgspec decodes the same row into a typed struct in
about 2 us, straight from the bytes. For the built-in record models, `FastRows` compiles a msgspec struct from the
model's own fields (the pydantic model stays the only definition) for one layout of keys, decodes runs of rows with
it and makes the model instances as `BaseModel.model_construct` does: about 5 us a row in all.

It only takes what it can make exactly as pydantic would, and leaves everything else to pydantic:
- rows with exactly the layout's keys (a key missing, added or spelled otherwise does not fit);
- the value types the models use, decoded at least as strictly: strings, booleans (`true`/`false` only), JSON
  numbers for floats and integers only for ints (no `"12"`, no `3600.0`), bounds such as `ge=0` checked;
- Plex date-times only as `YYYY-MM-DDThh:mm:ss[.f{1,7}]Z`, read by `datetime.fromisoformat`, which truncates a 7th
  fractional digit to microseconds as pydantic does (msgspec's own datetime rounds it: a different millisecond);
- unknown fields of any JSON value (msgspec makes the same Python values pydantic does; what it cannot, such as a
  number out of a float's range, is refused).
A row that does not fit raises `RowMisfitError` and goes to pydantic, which validates it or dead-letters it with its
reason, so dead letters are pydantic's alone. One difference is allowed: the unknown fields of a row whose keys come in
another order than the layout's are kept in the layout's order (equal dicts, another iteration order).

A reader that needs a few fields of each row (the production extractor sums quantities) can ask for a projection
(`fields`): the rows that fit are decoded and checked exactly as above, but each comes out as a tuple of those fields'
values instead of a record (about 1 us a row instead of 4.5, measured on production entries: most of the cost of a
record is building the model instance).
"""

from __future__ import annotations

import datetime
import functools
import operator
import re
import types
import typing
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import annotated_types
import msgspec
import pydantic
from pydantic.fields import FieldInfo

from plex_cognite.plex import models
from plex_cognite.plex._sharing import SharedExtra, SharedFieldsSet, share_record_parts

__all__ = ["FastRows", "RowMisfitError", "eligible", "fast_rows_for", "keys_of", "split_rows"]

RecordT = TypeVar("RecordT", bound=pydantic.BaseModel)

# Plex's own form, digits in ASCII only (`\d` would take other scripts' digits): what `fromisoformat` reads exactly
# as pydantic does. Anything else a date field holds (an offset, a space, a blank) goes to pydantic. Matched here, not
# as a msgspec `Meta(pattern=...)`, which costs more per value (about 0.15 us a production entry, measured).
_PLEX_DATETIME = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?Z\Z").match
_BOUNDS = {annotated_types.Ge: "ge", annotated_types.Gt: "gt", annotated_types.Le: "le", annotated_types.Lt: "lt"}
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_OBJECT_KEYS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_fromisoformat = datetime.datetime.fromisoformat
# Text values of declared fields, one object per distinct value (a workcenter id, a part number, ...), as
# pydantic-core's string cache gives: without it a record held for writing costs about 700 bytes more. Bounded.
_strings: dict[str, str] = {}
_STRINGS_HELD = 16_384
# Each layout shares the text fields of its first records; after them, only the fields whose values repeated in at
# least a quarter of them (a serial number never repeats: sharing it costs time and evicts values that do), sampling
# again until the fields kept stay the same.
_SHARING_SAMPLE = 512
_new_struct = object.__new__
_set = object.__setattr__


class RowMisfitError(ValueError):
    """A row is not one `FastRows` makes exactly as pydantic would (pydantic takes it).

    Attributes:
        row: The position of the first such row in the run decoded, where known.
        made: The records of the rows before it, where they were made before it was found (keep them).
    """

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.made: list[Any] = []


# Where msgspec says a list's element failed: "Expected `int`, got `str` - at `$[12].quantity`". Should the wording
# change, the position is unknown and the run goes row by row (slower, the same records).
_ELEMENT = re.compile(r" - at `\$\[(\d+)\]")


class _UnsupportedError(Exception):
    """A field type `FastRows` does not decode."""


def _flatten(annotation: Any, metadata: Sequence[Any]) -> tuple[Any, list[Any], bool]:
    """The base type of an annotation, all its metadata, and whether it admits None."""
    found = list(metadata)
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:
                found += item.metadata if isinstance(item, FieldInfo) else [item]
        elif origin in (typing.Union, types.UnionType):
            args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(args) != 1:
                raise _UnsupportedError(annotation)
            nullable = True
            annotation = args[0]
        else:
            return annotation, found, nullable


def _field_type(field: FieldInfo) -> tuple[Any, bool]:
    """The msgspec type that decodes `field` at least as strictly as pydantic, and whether it is a date-time."""
    base, metadata, nullable = _flatten(field.annotation, field.metadata)
    constraints: dict[str, Any] = {}
    date_time = False
    for item in metadata:
        if isinstance(item, pydantic.PlainSerializer):
            continue  # how the value is written, not read
        if isinstance(item, models._PlexDateTimeSchema):  # the marker of Plex date-times
            date_time = True
            nullable = nullable or item.optional
        elif isinstance(item, pydantic.Strict) and base is float:
            continue  # a strict float takes JSON ints and floats, as msgspec's float does
        elif isinstance(item, pydantic.BeforeValidator) and item.func is models._no_text:
            continue  # it refuses text and booleans, which msgspec's int refuses too
        elif type(item) in _BOUNDS and base in (int, float):
            key = _BOUNDS[type(item)]
            constraints[key] = getattr(item, key)
        else:
            raise _UnsupportedError(item)
    if date_time != (base is datetime.datetime):
        raise _UnsupportedError(base)
    if date_time:
        decoded: Any = str  # its form is checked by `_date_time`
    elif base in (str, bool, int, float):
        decoded = Annotated[base, msgspec.Meta(**constraints)] if constraints else base
    else:
        raise _UnsupportedError(base)
    return (decoded | None if nullable else decoded), date_time


class FastRows(Generic[RecordT]):
    """Decodes runs of rows with one layout of keys into records of one model (see the module's notes).

    Args:
        model: A built-in record model (`fast_rows_for` says which can be).
        keys: The row's keys in their order: each a field's alias or name, or an unknown field's name.
        fields: Make each row a tuple of these fields' values (model field names, each in the layout) instead of a
            record; the row is checked exactly as for a record.
    """

    def __init__(self, model: type[RecordT], keys: Sequence[str], fields: Sequence[str] | None = None) -> None:
        by_key: dict[str, str] = {}
        for name, field in model.model_fields.items():
            by_key[field.alias or name] = name
            by_key[name] = name
        named = [by_key[key] for key in keys if key in by_key]
        if len(set(named)) != len(named):
            raise _UnsupportedError("a field given twice (by its alias and by its name)")
        missing = [name for name, field in model.model_fields.items() if name not in named]
        if any(model.model_fields[name].is_required() for name in missing):
            raise _UnsupportedError("a required field is not in the layout")
        present = {found: key for key in keys if (found := by_key.get(key)) is not None}
        self._extras = tuple(key for key in keys if key not in by_key)
        # Struct fields: the model's fields in the model's order (as pydantic fills `__dict__`), a field the layout
        # lacks typed `UnsetType` (a row that has it does not fit), then the unknown fields; msgspec renames them.
        # (The struct's order is not the record's: `_template` gives `__dict__` the model's order.)
        members: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        dates: list[str] = []
        texts: list[str] = []
        for name, field in model.model_fields.items():
            if name not in present:
                continue
            decoded, date_time = _field_type(field)
            members.append((name, decoded))
            rename[name] = present[name]
            if date_time:
                dates.append(name)
            elif _flatten(field.annotation, field.metadata)[0] is str:
                texts.append(name)
        members += [(name, msgspec.UnsetType, msgspec.UNSET) for name in missing]
        for index, key in enumerate(self._extras):
            members.append((f"extra_{index}", Any))
            rename[f"extra_{index}"] = key
        try:
            struct: Any = msgspec.defstruct(
                f"{model.__name__}Row", members, rename=rename, forbid_unknown_fields=True, gc=False, kw_only=True
            )
        except ValueError as exc:  # a key msgspec cannot name (a quote, a backslash, a control character)
            raise _UnsupportedError(str(exc)) from None
        self._model = model
        self._decoder = msgspec.json.Decoder(list[struct])
        self._one = msgspec.json.Decoder(struct)
        self._present = tuple(name for name in model.model_fields if name in present)
        self._declared = len(model.model_fields)  # the struct's values before the unknown fields
        # Every field in the model's order (as pydantic fills `__dict__`), defaults for those the layout lacks.
        self._template = {
            name: model.model_fields[name].get_default(call_default_factory=True) if name in missing else None
            for name in model.model_fields
        }
        self._dates = tuple(dates)
        self._texts = tuple(texts)  # the fields shared once the sample is over
        # The fields the sample shares, and per field the records whose value was already shared.
        self._sample: tuple[tuple[str, ...], list[int]] = (self._texts, [0] * len(texts))
        self._sampled = 0
        self._fields_set = SharedFieldsSet([*present, *self._extras])
        self._no_extras = (None,) * len(self._extras)
        self._null_extras = SharedExtra(dict.fromkeys(self._extras))
        self._project = None if fields is None else self._projector(fields)

    def _projector(self, fields: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
        """What makes a row's tuple of `fields`: its date-times read (every one of the row, as for a record)."""
        if not fields or any(name not in self._present for name in fields):
            raise _UnsupportedError(f"fields {fields!r} are not all in the layout")
        pick = operator.attrgetter(*fields)  # the struct's attributes are the model's field names
        picked_dates = tuple(index for index, name in enumerate(fields) if name in self._dates)
        other_dates = tuple(name for name in self._dates if name not in fields)
        single = len(fields) == 1

        def project(row: Any) -> tuple[Any, ...]:
            for name in other_dates:  # only checked: a row the record would refuse does not fit either
                if (text := getattr(row, name)) is not None:
                    _date_time(text)
            picked = (pick(row),) if single else pick(row)
            if picked_dates:
                made = list(picked)
                for index in picked_dates:
                    if made[index] is not None:
                        made[index] = _date_time(made[index])
                picked = tuple(made)
            return picked

        return project

    def decode(self, run: bytes | bytearray) -> list[Any]:
        """The records (or tuples of the projected fields) of a JSON array of rows.

        Raises:
            RowMisfitError: A row does not fit (its position in `row` where known).
            msgspec.DecodeError: The bytes are not one JSON array.
        """
        try:
            rows = self._decoder.decode(run)
        except msgspec.ValidationError as exc:
            found = _ELEMENT.search(str(exc))
            raise RowMisfitError(str(exc), row=None if found is None else int(found[1])) from None
        records: list[Any] = []
        append = records.append
        make = self._record if self._project is None else self._project
        try:
            for row in rows:
                append(make(row))
        except RowMisfitError as exc:
            exc.row, exc.made = len(records), records
            raise
        return records

    def decode_one(self, row: bytes | bytearray | msgspec.Raw) -> Any:
        """The record (or tuple of the projected fields) of one row (a JSON object).

        Raises:
            RowMisfitError: The row does not fit, or is not JSON.
        """
        try:
            decoded = self._one.decode(row)
            return self._record(decoded) if self._project is None else self._project(decoded)
        except msgspec.DecodeError as exc:
            raise RowMisfitError(str(exc)) from None

    def _record(self, row: Any) -> RecordT:
        values = msgspec.structs.astuple(row)
        fields = self._template.copy()
        # The present fields come first in the struct: zip stops after them (missing and unknown ones come later).
        fields.update(zip(self._present, values, strict=False))
        if len(_strings) > _STRINGS_HELD:
            _strings.clear()
        if self._sampled < _SHARING_SAMPLE:
            self._share_sampled(fields)
        else:
            share = _strings.setdefault
            for name in self._texts:
                text = fields[name]
                if text is not None:
                    fields[name] = share(text, text)
        for name in self._dates:
            value = fields[name]
            if value is not None:
                fields[name] = _date_time(value)
        record = _new_struct(self._model)
        _set(record, "__dict__", fields)
        _set(record, "__pydantic_private__", None)
        extras = values[self._declared :]
        if extras == self._no_extras:
            _set(record, "__pydantic_fields_set__", self._fields_set)
            _set(record, "__pydantic_extra__", self._null_extras)
        else:
            _set(record, "__pydantic_fields_set__", set(self._fields_set))
            _set(record, "__pydantic_extra__", dict(zip(self._extras, extras, strict=True)))
            share_record_parts(record)
        return record

    def _share_sampled(self, fields: dict[str, Any]) -> None:
        """Share the text values of a record of the sample, counting those that repeat; narrow after the sample."""
        texts, repeats = self._sample  # one attribute: threads sharing this layout see a matching pair
        share = _strings.setdefault
        for position, name in enumerate(texts):
            text = fields[name]
            if text is not None:
                kept = share(text, text)
                if kept is not text:
                    repeats[position] += 1
                fields[name] = kept
        self._sampled += 1
        if self._sampled < _SHARING_SAMPLE:
            return
        still = tuple(name for name, count in zip(texts, repeats, strict=True) if 4 * count >= _SHARING_SAMPLE)
        self._texts = still
        if still != texts:  # another sample: a field may have repeated only by equalling one now left out
            self._sample = (still, [0] * len(still))
            self._sampled = 0


def _date_time(text: str) -> datetime.datetime:
    """The date-time of a Plex date-time text, as pydantic reads it.

    Raises:
        RowMisfitError: It is not in Plex's form (pydantic decides), or not a date (a month 13, an hour 24).
    """
    if _PLEX_DATETIME(text) is None:
        raise RowMisfitError(f"{text!r} is not in Plex's date-time form")
    try:
        return _fromisoformat(text)
    except ValueError as exc:  # pydantic names the fault
        raise RowMisfitError(str(exc)) from None


def keys_of(row: bytes | bytearray | msgspec.Raw) -> tuple[str, ...] | None:
    """The keys of a JSON object in their order (the last of duplicates), or None for anything else."""
    try:
        return tuple(_OBJECT_KEYS.decode(row))
    except msgspec.DecodeError:
        return None


def split_rows(run: bytes | bytearray) -> list[msgspec.Raw]:
    """The elements of a JSON array, undecoded.

    Raises:
        msgspec.DecodeError: The bytes are not one JSON array.
    """
    return _RAWS.decode(run)


@functools.cache
def eligible(model: type[pydantic.BaseModel]) -> bool:
    """Whether `FastRows` can make records of `model`: a built-in record model of field types it decodes.

    Only the models of `plex_cognite.plex.models` themselves qualify: a subclass may add validators or change how a
    field is read.
    """
    if model.__module__ != models.__name__ or not issubclass(model, models.PlexRecord):
        return False
    # What `_record` does in place of pydantic's own construction: no private attributes, PlexRecord's post-init.
    if (
        model.__private_attributes__
        or model.model_post_init is not models.PlexRecord.model_post_init
        or model.model_config.get("extra") != "allow"
    ):
        return False
    decorators = model.__pydantic_decorators__
    if decorators.validators or decorators.field_validators or decorators.model_validators:
        return False
    try:
        for field in model.model_fields.values():
            _field_type(field)
    except _UnsupportedError:
        return False
    return True


@functools.lru_cache(maxsize=128)
def fast_rows_for(
    model: type[RecordT], keys: tuple[str, ...], fields: tuple[str, ...] | None = None
) -> FastRows[RecordT] | None:
    """The `FastRows` of an `eligible` model and a layout of keys (and projection), or None where it has none.

    None: a required field missing from the layout, one given twice, a projected field not in it.
    """
    if not eligible(model):
        return None
    try:
        return FastRows(model, keys, fields)
    except _UnsupportedError:
        return None
