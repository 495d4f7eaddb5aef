"""Incremental parsing of Plex's bare JSON arrays, and validation of rows into records with dead letters.

Plex list endpoints have no paging: `/scheduling/v1/jobs` answers one array of 100k+ objects (~20 MB). We feed
the bytes to an incremental decoder (`_jsonarray.ArrayDecoder`) as they arrive and hand rows on in batches, so
memory is bounded by the batch size, not the body size.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import pydantic

from plex_cognite.core.results import DeadLetter
from plex_cognite.errors import RecordValidationError, SourceError
from plex_cognite.observability.logs import get_logger
from plex_cognite.plex._jsonarray import ArrayDecodeError, ArrayDecoder
from plex_cognite.typing import DeadLetterCallback

__all__ = ["REASON_KINDS", "RowValidator", "describe", "iter_array_batches", "iter_bytes"]

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
    if error_type == "missing" or (value is None and error_type.endswith("_type")):
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
            parts.append(f"{location}: {error['msg'].removeprefix('Value error, ')}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    kind = min(kinds, key=REASON_KINDS.index) if kinds else "invalid_value"
    return kind, f"{kind}: {model.__name__}: " + "; ".join(parts)


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
        records: list[RecordT] = []
        validate = model.model_validate
        for row in rows:
            if not isinstance(row, dict):
                self.reject(row, f"not_an_object: row is a JSON {type(row).__name__}, not an object", "not_an_object")
                continue
            try:
                records.append(validate(row))
            except pydantic.ValidationError as exc:
                kind, reason = describe(model, exc)
                self.reject(row, reason, kind)
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
