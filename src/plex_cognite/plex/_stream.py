"""Parsing Plex's bare JSON arrays, and validation of rows into records with dead letters.

Two paths, one validator:
- A body that is held anyway (a history window) is parsed and validated in one pydantic-core call
  (`RowValidator.validate_json`): no Python object per row before its record exists.
- List endpoints have no paging: `/scheduling/v1/jobs` answers one array of 100k+ objects (~20 MB+). Those bytes go
  to an incremental decoder (`_jsonarray.ArrayDecoder`) as they arrive and rows are handed on in batches
  (`iter_array_batches`, then `RowValidator.validate`), so memory is bounded by the batch size, not the body size.

Either way a batch is validated as `list[Model | Any]` (left to right): a good row becomes a record, a bad row comes
back as its raw value, and only the bad rows are validated again on their own, for their dead letter's reason.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Annotated, Any, TypeVar

import pydantic

from plex_cognite.core.results import DeadLetter
from plex_cognite.errors import RecordValidationError, SourceError
from plex_cognite.observability.logs import get_logger
from plex_cognite.plex._jsonarray import ArrayDecodeError, ArrayDecoder
from plex_cognite.typing import DeadLetterCallback

__all__ = ["REASON_KINDS", "RowValidator", "decode_array", "describe", "iter_array_batches", "iter_bytes"]

_log = get_logger("plex_cognite.plex")

RecordT = TypeVar("RecordT", bound=pydantic.BaseModel)


async def iter_array_batches(chunks: AsyncIterable[bytes], batch_size: int) -> AsyncIterator[list[Any]]:
    """Parse a JSON array arriving in byte chunks and yield its elements in lists of up to `batch_size`.

    Args:
        chunks: The body, in chunks of any size (for example `response.aiter_bytes()`).
        batch_size: Largest list yielded; memory held is about one batch plus one chunk.

    Yields:
        Lists of decoded elements (as `json.loads` decodes them), in body order.

    Raises:
        SourceError: The body is not a JSON array, or it is malformed or truncated.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    decoder = ArrayDecoder()
    batch: list[Any] = []
    try:
        async for chunk in chunks:
            batch.extend(decoder.feed(chunk))
            while len(batch) >= batch_size:
                yield batch[:batch_size]
                batch = batch[batch_size:]
        batch.extend(decoder.close())
    except ArrayDecodeError as exc:
        raise SourceError(f"malformed or truncated JSON array from Plex: {exc}") from exc
    for offset in range(0, len(batch), batch_size):
        yield batch[offset : offset + batch_size]


def decode_array(body: bytes | bytearray) -> list[Any]:
    """Decode a whole JSON array body (with the same checks and errors as `iter_array_batches`).

    Raises:
        SourceError: The body is not a JSON array, or it is malformed or truncated.
    """
    decoder = ArrayDecoder()
    try:
        return [*decoder.feed(body), *decoder.close()]
    except ArrayDecodeError as exc:
        raise SourceError(f"malformed or truncated JSON array from Plex: {exc}") from exc


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
        return self._settle(model, _rows_adapter(model).validate_python(rows))

    def validate_json(self, model: type[RecordT], body: bytes | bytearray) -> list[RecordT]:
        """Parse a whole JSON array body and validate it into `model` instances in one pydantic-core call.

        Bad rows are dead-lettered exactly as `validate` does (with the raw row and the reason). A body that is not
        one well-formed JSON array (or has a byte-order mark) is decoded by `decode_array`, which either raises the
        same `SourceError` as the streaming path or hands the rows to `validate`.

        Raises:
            SourceError: The body is not a JSON array, or it is malformed or truncated.
            ValidationError: A row failed and the validator is strict.
        """
        try:
            values = _rows_adapter(model).validate_json(body)
        except pydantic.ValidationError:
            return self.validate(model, decode_array(body))
        return self._settle(model, values)

    def _settle(self, model: type[RecordT], values: list[Any]) -> list[RecordT]:
        """Keep the records; validate each raw value that is not one on its own, for its dead letter's reason."""
        records: list[RecordT] = []
        for value in values:
            if isinstance(value, model):
                records.append(value)
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
