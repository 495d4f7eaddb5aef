"""Reading `*-history` endpoints window by window: concurrent fetches, splits on timeouts, ordered delivery."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx
import pydantic

from plex_cognite.core._ordered import ordered_fetch
from plex_cognite.core._together import in_order
from plex_cognite.observability.logs import get_logger
from plex_cognite.plex._connect import ConnectSession, QueryParams, WindowTooLargeError, WindowTooSlowError
from plex_cognite.plex._dates import Window
from plex_cognite.plex._stream import RowValidator

if TYPE_CHECKING:
    from plex_cognite.resilience.retry import RetryPolicy

__all__ = ["WindowBatch", "WindowReader"]

_log = get_logger("plex_cognite.plex")

RecordT = TypeVar("RecordT", bound=pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class WindowBatch(Generic[RecordT]):
    """Records of one half-open history window, delivered in window order.

    Attributes:
        pcn: The PCN they belong to.
        window: The window `[start, end)` the records come from. After a split this is the sub-window actually read,
            so commit exactly this range.
        records: Valid records with `window.start <= time < window.end` (may be empty).
        complete: True on the last batch of the window: every record of `window` has been delivered.
    """

    pcn: str
    window: Window
    records: list[RecordT]
    complete: bool


class WindowReader:
    """Fetches windows (each attempt under the retry policy), splits slow or oversized ones, parses bodies.

    A window's body is read completely before any of its records are handed on, so a failed or split window
    never leaves a half-delivered window behind; memory is bounded by `lookahead` buffered bodies.

    Args:
        session: The Connect session (limiter, breaker, HTTP).
        retry: Policy around every attempt.
        min_window: Windows are not split below this length; their timeouts are retried instead.
        deadline_s: Time budget for one window's whole answer.
        max_window_bytes: A splittable window whose body passes this is split (None: no limit).
        batch_size: Records per batch.
        lookahead: Windows in flight at once.
        on_records: Called with (pcn, stream, count) per delivered batch (metrics).
    """

    def __init__(
        self,
        session: ConnectSession,
        retry: RetryPolicy,
        *,
        min_window: timedelta,
        deadline_s: float,
        max_window_bytes: int | None,
        batch_size: int,
        lookahead: int,
        on_records: Callable[[str, str, int], None],
    ) -> None:
        self._session = session
        self._retry = retry
        self._min_window = min_window
        self._deadline_s = deadline_s
        self._max_window_bytes = max_window_bytes
        self._batch_size = batch_size
        self._lookahead = lookahead
        self._on_records = on_records

    async def iter_windows(
        self,
        pcn: str,
        path: str,
        model: type[RecordT],
        windows: Iterable[Window],
        validator: RowValidator,
        time_of: Callable[[RecordT], datetime],
        params: QueryParams | None = None,
    ) -> AsyncGenerator[WindowBatch[RecordT], None]:
        """Yield the batches of every window (and of the halves of split ones), in window order."""
        extra = dict(params or {})

        async def fetch(window: Window) -> list[tuple[Window, bytearray]]:
            return await self._fetch(pcn, path, extra, window)

        async for _, parts in ordered_fetch(windows, fetch, self._lookahead):
            parts.reverse()
            while parts:
                part, body = parts.pop()  # dropped here, so the body is freed once it is validated
                batches = self._batches(pcn, part, body, model, validator, time_of)
                del body
                async for batch in batches:
                    yield batch

    async def read_window(
        self,
        pcn: str,
        path: str,
        model: type[RecordT],
        window: Window,
        validator: RowValidator,
        time_of: Callable[[Any], datetime],
        params: QueryParams | None = None,
        fields: tuple[str, ...] | None = None,
    ) -> list[Any]:
        """Every valid record of one window (split and retried as `iter_windows` does), in one list.

        With `fields`, rows `FastRows` decodes come as tuples of those fields (see `RowValidator.project_json`), and
        `time_of` is given records and tuples.
        """
        records: list[Any] = []
        for part, body in await self._fetch(pcn, path, dict(params or {}), window):
            async for batch in self._batches(pcn, part, body, model, validator, time_of, fields):
                records.extend(batch.records)
        return records

    async def _fetch(self, pcn: str, path: str, params: QueryParams, window: Window) -> list[tuple[Window, bytearray]]:
        splittable = window.can_split(self._min_window)
        query = {**params, **window.query_params()}
        try:
            body = await self._retry.acall(self._read_once, pcn, path, query, splittable)
        except (WindowTooSlowError, WindowTooLargeError) as exc:
            left, right = window.split()
            _log.info("splitting plex window", path=path, pcn=pcn, window=str(window), reason=str(exc))
            first, second = await in_order(self._fetch(pcn, path, params, left), self._fetch(pcn, path, params, right))
            return [*first, *second]
        return [(window, body)]

    async def _read_once(self, pcn: str, path: str, query: QueryParams, splittable: bool) -> bytearray:
        try:
            return await self._session.read_window(
                path,
                pcn,
                query,
                deadline_s=self._deadline_s,
                max_bytes=self._max_window_bytes if splittable else None,
            )
        except (httpx.TimeoutException, TimeoutError) as exc:
            if splittable:
                # Not retryable as is (classify() calls it fatal): the caller splits the window instead.
                raise WindowTooSlowError(f"timed out ({type(exc).__name__})") from exc
            raise

    async def _batches(
        self,
        pcn: str,
        window: Window,
        body: bytes | bytearray,
        model: type[RecordT],
        validator: RowValidator,
        time_of: Callable[[RecordT], datetime],
        fields: tuple[str, ...] | None = None,
    ) -> AsyncGenerator[WindowBatch[RecordT], None]:
        # The body is held anyway (a window is delivered whole or not at all): validate it, a slice at a time.
        # Plex does not document whether endDate is inclusive: keep [start, end) so no row is delivered twice.
        rows: list[Any] = (
            validator.validate_json(model, body) if fields is None else validator.project_json(model, body, fields)
        )
        records: list[Any] = [record for record in rows if window.contains(time_of(record))]  # records or tuples
        del body  # the records are all that is needed from here on
        size = self._batch_size
        for offset in range(0, len(records), size):
            batch = records[offset : offset + size]
            self._on_records(pcn, validator.stream, len(batch))
            yield WindowBatch(pcn, window, batch, complete=offset + size >= len(records))
        if not records:
            yield WindowBatch(pcn, window, [], complete=True)
