"""Parsing Plex's bare JSON arrays, and validation of rows into records with dead letters.

Both paths validate a run of complete elements per pydantic-core call (`_ArrayBody`), so no Python object is made
for a row before its record exists and the parser's own transient tree is bounded by a slice, not by the body:
- A body that is held anyway (a history window) is validated a slice at a time (`RowValidator.validate_json`).
- List endpoints have no paging: `/scheduling/v1/jobs` answers one array of 100k+ objects (~20 MB+). Those bytes are
  validated as they arrive (`iter_record_batches`), and records are handed on in batches, so memory is bounded by
  the batch size, not the body size.
A body that defeats the slicing (see `_ArrayBody`) goes on through the incremental decoder `_jsonarray.ArrayDecoder`
and `RowValidator.validate`.

Either way a batch is validated as `list[Model | Any]` (left to right): a good row becomes a record, a bad row comes
back as its raw value, and only the bad rows are validated again on their own, for their dead letter's reason.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import pydantic

from plex_cognite.core.results import DeadLetter
from plex_cognite.errors import RecordValidationError, SourceError
from plex_cognite.observability.logs import get_logger
from plex_cognite.plex._fastrows import FastRows, RowMisfitError, eligible, fast_rows_for, keys_of, split_rows
from plex_cognite.plex._jsonarray import ArrayDecodeError, ArrayDecoder
from plex_cognite.typing import DeadLetterCallback

__all__ = ["REASON_KINDS", "RowValidator", "describe", "iter_bytes", "iter_record_batches"]

_log = get_logger("plex_cognite.plex")

RecordT = TypeVar("RecordT", bound=pydantic.BaseModel)


async def iter_record_batches(
    chunks: AsyncIterable[bytes], validator: RowValidator, model: type[RecordT], batch_size: int
) -> AsyncIterator[list[RecordT]]:
    """Validate a JSON array arriving in byte chunks into `model` records, yielded in lists of up to `batch_size`.

    Bad rows are dead-lettered by `validator`, as `RowValidator.validate_json` does for a whole body.

    Args:
        chunks: The body, in chunks of any size (for example `response.aiter_bytes()`).
        validator: Validates the rows and dead-letters the bad ones.
        model: The record type.
        batch_size: Largest list yielded; memory held is about one batch plus a slice of the body.

    Yields:
        Non-empty lists of valid records, in body order.

    Raises:
        SourceError: The body is not a JSON array, or it is malformed or truncated.
        RecordValidationError: A row failed and the validator is strict.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    body = _ArrayBody(validator, model)
    batch: list[RecordT] = []
    try:
        async for chunk in chunks:
            batch.extend(body.feed(chunk))
            while len(batch) >= batch_size:
                yield batch[:batch_size]
                batch = batch[batch_size:]
        batch.extend(body.close())
    except ArrayDecodeError as exc:
        raise _malformed(exc) from exc
    for offset in range(0, len(batch), batch_size):
        yield batch[offset : offset + batch_size]


_WHITESPACE = b" \t\n\r"
#: Largest run of elements validated in one call (and so about the records a chunk can add at once). A bad row costs
#: about its run (decoded again around it): 64 KiB runs made a production window with one bad row in a thousand
#: 15% faster than 256 KiB runs (3.0 against 3.6 us a row, projected), and good rows no slower.
_SLICE_BYTES = 64 * 1024
#: Bytes held without finding one complete element before the rest of the body goes to `ArrayDecoder`.
_MAX_PENDING = 4 * 1024 * 1024
#: Candidate ends tried a slice before waiting for more of the body.
_TRIES = 4
#: Rows of a body `FastRows` may fail to make before it is given up for the body when most rows do not fit.
_MISFITS_TRIED = 8
#: Misfits in a run around which `FastRows` decodes the other rows in bulk before going row by row.
_BULK_TRIES = 4


def _array(rows: Sequence[bytes | msgspec.Raw]) -> bytes:
    """The JSON array of undecoded elements."""
    return b"[" + b",".join(rows) + b"]"


class _ArrayBody:
    """A JSON array arriving in chunks, validated a run of complete elements at a time by pydantic-core.

    No Python object is made for a row before its record (the stdlib scanner of `ArrayDecoder` costs about a third
    more a row). A run of complete elements is found without decoding: the pending bytes are cut after their last
    `}` and `[` + run + `]` is validated as `list[Model | Any]`. That only succeeds when the `}` closes a top-level
    element (one inside a string or a nested object leaves brackets or a string open), and rows that are not valid
    records come back raw, so a failure means "not an element's end": an earlier `}` is tried, or more bytes are
    awaited. A body that starts with anything but `[` (a byte-order mark, an error object), or holds megabytes
    without a `}` that ends an element, goes on through `ArrayDecoder`, which decodes anything and names the fault.
    """

    def __init__(self, validator: RowValidator, model: type[RecordT], fields: tuple[str, ...] | None = None) -> None:
        self._validator = validator
        self._model = model
        self._fields = fields  # rows `FastRows` makes come as tuples of these fields (see `project_json`)
        self._adapter = _rows_adapter(model)
        self._pending = bytearray()  # the body after what was validated (and its '[' or the last element's end)
        self._read = 0  # bytes of the body no longer pending
        self._opened = False  # the '[' was read
        self._elements = False  # an element was validated: what is pending starts with ',' or ']'
        self._decoder: ArrayDecoder | None = None
        self._fast: FastRows[Any] | None = None  # the layout of the last row `FastRows` made
        self._learn = eligible(model)  # whether rows that do not fit `_fast` are worth a look for another layout

    def feed(self, chunk: bytes | bytearray) -> list[Any]:
        if self._decoder is not None:
            return self._validator.validate(self._model, self._decoder.feed(chunk))
        self._pending += chunk
        if not self._opened:
            start = _skip_whitespace(self._pending, 0)
            if start == len(self._pending):
                return []
            if self._pending[start] != ord("["):
                return self._hand_over(final=False)
            self._consume(start + 1)
            self._opened = True
        records: list[Any] = []
        while (values := self._cut()) is not None:
            records += self._validator.settle(self._model, values)
        if len(self._pending) > _MAX_PENDING:
            records += self._hand_over(final=False)
        return records

    def close(self) -> list[Any]:
        if self._decoder is not None:
            return self._validator.validate(self._model, self._decoder.close())
        if not self._opened:
            return self._hand_over(final=True)
        pending = self._pending
        start = _skip_whitespace(pending, 0)
        if self._elements and start < len(pending) and pending[start] == ord(","):
            start = _skip_whitespace(pending, start + 1)
            if start == len(pending) or pending[start] == ord("]"):  # "[..., ]" is not JSON, "[]" would be
                return self._hand_over(final=True)
        elif self._elements and (start == len(pending) or pending[start] != ord("]")):
            return self._hand_over(final=True)
        records = self._run(b"[" + pending[start:])
        if records is None:  # not one well-formed rest of an array: the decoder says why
            return self._hand_over(final=True)
        self._consume(len(pending))
        return records

    def _cut(self) -> list[Any] | None:
        """Validate the run of complete elements the pending bytes start with, if one can be found."""
        pending = self._pending
        start = 0
        if self._elements:
            start = _skip_whitespace(pending, 0)
            if start == len(pending) or pending[start] != ord(","):
                return None  # the array's end, a fault, or not yet arrived: `close` or the decoder deal with it
            start += 1
        # A slice first (bounding the records one call makes), then all that is pending, for an element bigger
        # than a slice.
        for limit in dict.fromkeys((min(len(pending), start + _SLICE_BYTES), len(pending))):
            end = limit
            for _ in range(_TRIES):
                last = pending.rfind(b"}", start, end)
                if last < 0:
                    break
                records = self._run(b"[" + pending[start : last + 1] + b"]")
                if records is None:
                    end = last
                    continue
                self._consume(last + 1)
                self._elements = True
                return records
        return None

    def _run(self, data: bytes) -> list[Any] | None:
        """The records of a JSON array of rows (bad rows dead-lettered), or None when `data` is not one.

        Rows of the layout `FastRows` knows (at first, the first row's) are made by it in bulk; a row that does not
        fit is taken alone (it may bring the next layout) and the rows around it in bulk again, a run with many such
        rows row by row; pydantic validates what is left, and decides what `data` is when msgspec cannot.
        """
        fast = self._fast
        values: list[Any] | None = None
        try:
            if fast is None and self._learn:
                fast = self._fast = self._layout_of_first(data)
            if fast is not None:
                return fast.decode(data)
            if self._learn:
                values = self._row_by_row(data)
        except RowMisfitError as misfit:
            values = self._around_misfits(data, misfit)
        except msgspec.DecodeError:
            pass  # not whole elements, or not JSON to msgspec: pydantic decides
        if values is None:
            try:
                values = self._adapter.validate_json(data)
            except pydantic.ValidationError:
                return None
        return self._validator.settle(self._model, values)

    def _layout_of_first(self, data: bytes) -> FastRows[Any] | None:
        """The `FastRows` of the first row's layout of keys, if it has one; the run is tried with it in bulk."""
        try:
            rows = split_rows(data)
        except msgspec.DecodeError:
            return None
        keys = keys_of(rows[0]) if rows else None
        return None if keys is None else fast_rows_for(self._model, keys, self._fields)

    def _around_misfits(self, data: bytes, misfit: RowMisfitError) -> list[Any] | None:
        """As `_row_by_row`, for a run `FastRows` missed at a row: the rows between misfits in bulk.

        A run of a few hundred rows with one bad row in it is decoded as the records made before it, the next rows
        in bulk, and that row alone; after `_BULK_TRIES` misfits, or where the row is not known, the rest of the run
        goes row by row.
        """
        try:
            pending = split_rows(data)
        except msgspec.DecodeError:
            return None
        values: list[Any] = []
        tries = _BULK_TRIES
        while True:
            # `misfit` was raised decoding a run that starts at `pending[0]`.
            values += misfit.made
            pending = pending[len(misfit.made) :]
            fast = self._fast
            if misfit.row is None or fast is None or tries == 0:
                break
            tries -= 1
            row = misfit.row - len(misfit.made)
            try:
                if row:  # these fit msgspec, but a date among them may not: raises for the earlier row then
                    values += fast.decode(_array(pending[:row]))
                    pending = pending[row:]
                one = self._one_by_one(pending[:1])
                if one is None:
                    return None
                values += one
                pending = pending[1:]
                if not pending:
                    return values
                fast = self._fast  # the row may have been of another layout, now the one tried first
                if fast is None:
                    break
                values += fast.decode(_array(pending))
                return values
            except RowMisfitError as exc:
                misfit = exc
        rest = self._one_by_one(pending)
        return None if rest is None else values + rest

    def _row_by_row(self, data: bytes) -> list[Any] | None:
        """Records where `FastRows` makes them, pydantic's `model | Any` values elsewhere; None if not rows."""
        try:
            rows = split_rows(data)
        except msgspec.DecodeError:
            return None
        return self._one_by_one(rows)

    def _one_by_one(self, rows: list[msgspec.Raw]) -> list[Any] | None:
        """`_row_by_row` of rows already split."""
        values: list[Any] = []
        misfits = 0
        for index, row in enumerate(rows):
            record = self._fast_record(row)
            if record is not None:
                values.append(record)
                continue
            misfits += 1
            if misfits > _MISFITS_TRIED and 2 * misfits > len(values) + 1:
                # Most rows of this body do not fit: pydantic validates the rest of it in bulk (faster than by row).
                self._learn = False
                self._fast = None
                rest = rows[index:]
            else:
                rest = [row]
            try:  # nothing is dead-lettered before the whole run is known to be rows (`settle` does that)
                values += self._adapter.validate_json(_array(rest))
            except pydantic.ValidationError:
                return None
            if not self._learn:
                break
        return values

    def _fast_record(self, row: msgspec.Raw) -> Any:
        """The record `FastRows` makes of one row, with the last layout or the row's own; None if it cannot."""
        if self._fast is not None:
            try:
                return self._fast.decode_one(row)
            except RowMisfitError:
                pass
        keys = keys_of(row)
        fast = fast_rows_for(self._model, keys, self._fields) if keys is not None else None
        if fast is None or fast is self._fast:
            return None
        try:
            record = fast.decode_one(row)
        except RowMisfitError:
            return None
        self._fast = fast
        return record

    def _consume(self, size: int) -> None:
        del self._pending[:size]
        self._read += size

    def _hand_over(self, *, final: bool) -> list[Any]:
        """Decode the rest of the body with `ArrayDecoder`, from where this left off."""
        resume: Literal["start", "first", "next"] = "next" if self._elements else "first" if self._opened else "start"
        self._decoder = ArrayDecoder(resume=resume, after_byte=self._read)
        rows = self._decoder.feed(self._pending)
        self._pending = bytearray()
        if final:
            rows += self._decoder.close()
        return self._validator.validate(self._model, rows)


def _skip_whitespace(data: bytearray, pos: int) -> int:
    size = len(data)
    while pos < size and data[pos] in _WHITESPACE:
        pos += 1
    return pos


def _malformed(exc: ArrayDecodeError) -> SourceError:
    return SourceError(f"malformed or truncated JSON array from Plex: {exc}")


async def iter_bytes(body: bytes, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """Serve a buffered body as chunks, so buffered windows parse through the same code as live streams."""
    view = memoryview(body)
    for offset in range(0, len(view), chunk_size):
        yield bytes(view[offset : offset + chunk_size])


#: Reason kinds, in the order they are reported when a row has several problems.
REASON_KINDS = (
    "not_an_object",
    "missing_field",
    "invalid_datetime",
    "invalid_number",
    "negative_number",
    "invalid_value",
)
_NUMBER_ERRORS = frozenset(
    {"invalid_number", "float_parsing", "float_type", "int_parsing", "int_type", "int_from_float", "finite_number"}
)


def _kind(error_type: str, value: object) -> str:
    if error_type == "missing" or (value is None and error_type.endswith(("_type", "invalid_datetime"))):
        return "missing_field"
    if error_type in ("invalid_datetime", "datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return "invalid_datetime"
    if error_type in _NUMBER_ERRORS:
        return "invalid_number"
    if error_type in ("greater_than_equal", "greater_than"):
        return "negative_number"
    return "invalid_value"


def describe(model: type[pydantic.BaseModel], exc: pydantic.ValidationError) -> tuple[str, str]:
    """The reason kind (see `REASON_KINDS`) and a one-line reason for a failed validation."""
    kinds: list[str] = []
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        kinds.append(_kind(error["type"], error.get("input")))
        if len(parts) < 5:
            location = ".".join(str(item) for item in error["loc"]) or "row"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "invalid_datetime":  # a static message: name the value
                message += f": {error.get('input')!r}"
            parts.append(f"{location}: {message}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    kind = min(kinds, key=REASON_KINDS.index) if kinds else "invalid_value"
    return kind, f"{kind}: {model.__name__}: " + "; ".join(parts)


@functools.cache
def _rows_adapter(model: type[pydantic.BaseModel]) -> pydantic.TypeAdapter[list[Any]]:
    """`list[model | Any]`, left to right: records where rows validate, the raw value where they do not."""
    row = Annotated[model | Any, pydantic.Field(union_mode="left_to_right")]  # type: ignore[valid-type]
    return pydantic.TypeAdapter(list[row])


class RowValidator:
    """Turns raw rows into records; a row that fails becomes a `DeadLetter` and is skipped.

    Args:
        stream: Stream name recorded on dead letters (`jobs`, `production`, ...).
        pcn: PCN recorded on dead letters.
        on_dead_letter: Called once per rejected row; exceptions it raises are logged, never propagated.
        strict: Raise `RecordValidationError` on the first bad row instead of dead-lettering it.
        on_rejected: Called with the PCN, stream and reason kind of each rejected row
            (the signature of `ExtractorMetrics.record_dead_letter`).
    """

    def __init__(
        self,
        stream: str,
        pcn: str,
        *,
        on_dead_letter: DeadLetterCallback | None = None,
        strict: bool = False,
        on_rejected: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.stream = stream
        self.pcn = pcn
        self._on_dead_letter = on_dead_letter
        self._strict = strict
        self._on_rejected = on_rejected
        self.rejected = 0

    def validate(self, model: type[RecordT], rows: Sequence[Any]) -> list[RecordT]:
        """Validate `rows` into `model` instances, dead-lettering the ones that fail.

        Args:
            model: The record type.
            rows: Raw decoded rows.

        Returns:
            The valid records, in row order.

        Raises:
            RecordValidationError: A row failed and the validator is strict.
        """
        return self.settle(model, _rows_adapter(model).validate_python(rows))

    def validate_json(self, model: type[RecordT], body: bytes | bytearray) -> list[RecordT]:
        """Parse a whole JSON array body and validate it into `model` instances, a slice of elements per call.

        One pydantic-core call over the whole body would build pydantic-core's parse tree of all of it first: about
        twice the body, allocated outside Python's heap (measured: a 5.5 MB window of 5,500 production entries left
        the process 11 MiB bigger, slices of `_SLICE_BYTES` none, at the same speed). Bad rows are dead-lettered
        exactly as `validate` does (with the raw row and the reason); a body that is not one well-formed JSON array
        (or has a byte-order mark) is decoded by `ArrayDecoder`, as in `iter_record_batches`.

        Raises:
            SourceError: The body is not a JSON array, or it is malformed or truncated.
            ValidationError: A row failed and the validator is strict.
        """
        return self._parse(_ArrayBody(self, model), body)

    def project_json(
        self, model: type[RecordT], body: bytes | bytearray, fields: tuple[str, ...]
    ) -> list[RecordT | tuple[Any, ...]]:
        """As `validate_json`, but each row `FastRows` decodes comes as the tuple of its `fields` values.

        Rows are checked exactly as for records (the same rows are dead-lettered, for the same reasons); those that
        pydantic validates (another layout, a value `FastRows` leaves to pydantic) still come as records.
        """
        return self._parse(_ArrayBody(self, model, fields), body)

    def _parse(self, parser: _ArrayBody, body: bytes | bytearray) -> list[Any]:
        records: list[Any] = []
        try:
            for offset in range(0, len(body), _SLICE_BYTES):
                records += parser.feed(body[offset : offset + _SLICE_BYTES])
            records += parser.close()
        except ArrayDecodeError as exc:
            raise _malformed(exc) from exc
        return records

    def settle(self, model: type[RecordT], values: list[Any]) -> list[RecordT]:
        """Keep the records of a `list[model | Any]` validation; dead-letter the raw values with their reasons.

        Each raw value that is not a record is validated again on its own, for its dead letter's reason.
        """
        records: list[RecordT] = []
        for value in values:
            # A tuple is a row `FastRows` projected (`project_json`); pydantic makes JSON arrays lists, not tuples.
            if isinstance(value, (model, tuple)):
                records.append(value)  # type: ignore[arg-type]
            elif not isinstance(value, dict):
                kind = "not_an_object"
                self.reject(value, f"{kind}: row is a JSON {type(value).__name__}, not an object", kind)
            else:
                try:
                    records.append(model.model_validate(value))
                except pydantic.ValidationError as exc:
                    kind, reason = describe(model, exc)
                    self.reject(value, reason, kind)
        return records

    def reject(self, row: Any, reason: str, kind: str = "invalid_value") -> None:
        """Report one bad row (dead letter, log, count), or raise when strict.

        Args:
            row: The raw row.
            reason: `"<kind>: <details>"`, the dead letter's reason.
            kind: The reason kind (`REASON_KINDS`), also passed to `on_rejected` for metrics.
        """
        self.rejected += 1
        if self._strict:
            raise RecordValidationError(f"{self.stream} row for PCN {self.pcn} rejected: {reason}", payload=row)
        _log.warning("plex row rejected", stream=self.stream, pcn=self.pcn, reason=reason)
        if self._on_rejected is not None:
            self._on_rejected(self.pcn, self.stream, kind)
        if self._on_dead_letter is None:
            return
        letter = DeadLetter(
            stream=self.stream, pcn=self.pcn, reason=reason, payload=row, error_type="RecordValidationError"
        )
        try:
            self._on_dead_letter(letter)
        except Exception:  # a broken callback must not abort the stream; it is logged with its traceback
            _log.exception("dead-letter callback failed", stream=self.stream, pcn=self.pcn)
