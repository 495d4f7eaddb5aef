"""`AsyncPlexClient`: the Plex Connect REST API as async iterators of typed record batches.

```python
async with AsyncPlexClient(settings.plex, on_dead_letter=store.add) as plex:
    async for jobs in plex.iter_jobs("340884"):            # list[Job], streamed from one bare JSON array
        ...
    async for batch in plex.iter_production_windows("340884", start, end, timedelta(days=1)):
        write(batch.records)
        if batch.complete:
            commit(batch.window)                             # every record in [window.start, window.end) seen
```

Each request goes rate limiter -> circuit breaker -> HTTP, inside the retry loop (429, 5xx, timeouts and
connection errors are retried; 400/401/403/404 are not). List endpoints are parsed incrementally, so memory is
bounded by the batch size. History endpoints are read in half-open windows, several in flight at once
(`max_concurrency`) but delivered in window order; a window that times out or is too large is split in half, down
to `min_window_s`. Rows that fail validation go to `on_dead_letter` and are skipped.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from plex_cognite.errors import ConfigurationError, SourceError
from plex_cognite.observability.logs import get_logger
from plex_cognite.plex._connect import (
    AsyncBreaker,
    ConnectSession,
    QueryParams,
    RateLimitScope,
)
from plex_cognite.plex._dates import Window, iter_windows
from plex_cognite.plex._defaults import default_breaker, default_limiter, default_retry
from plex_cognite.plex._ds_accounts import DataSourceAccounts
from plex_cognite.plex._history import WindowBatch, WindowReader
from plex_cognite.plex._stream import RowValidator, iter_record_batches
from plex_cognite.plex.datasource import DataSourceClient
from plex_cognite.plex.models import (
    Building,
    Container,
    ContainerLocationMove,
    Job,
    JobOperation,
    Location,
    Part,
    ProductionEntry,
    ScrapEntry,
    Workcenter,
    WorkcenterStatus,
    WorkcenterStatusEntry,
)
from plex_cognite.typing import DeadLetterCallback, RateLimiter, TimeWindow

if TYPE_CHECKING:
    from plex_cognite.config import PlexSettings
    from plex_cognite.observability.metrics import ExtractorMetrics
    from plex_cognite.resilience.breaker import CircuitBreaker
    from plex_cognite.resilience.retry import RetryPolicy

__all__ = ["PATHS", "AsyncPlexClient", "WindowBatch"]

_log = get_logger("plex_cognite.plex")

RecordT = TypeVar("RecordT", bound=pydantic.BaseModel)

#: Endpoint paths (Plex Connect; the field lists are in `docs/plex-client.md`).
PATHS: dict[str, str] = {
    "buildings": "/mdm/v1/buildings",
    "parts": "/mdm/v1/parts",
    "workcenters": "/production/v1/production-definitions/workcenters",
    "workcenter_statuses": "/production/v1/production-definitions/workcenter-statuses",
    "jobs": "/scheduling/v1/jobs",
    "job_operations": "/scheduling/v1/jobs/{id}/operations",
    "production_entries": "/production/v1/production-history/production-entries",
    "scrap_entries": "/production/v1/production-history/scrap-entries",
    "workcenter_status_entries": "/production/v1/production-history/workcenter-status-entries",
    "containers": "/inventory/v1/inventory-tracking/containers",
    "locations": "/inventory/v1/inventory-definitions/locations",
    "container_location_moves": "/inventory/v1/inventory-history/container-location-moves",
}

_DEFAULT_WINDOW = timedelta(days=1)
_MAX_STREAM_RESTARTS = 2


class AsyncPlexClient:
    """Async client for the Plex Connect REST API (one API key, one or more PCNs).

    Args:
        settings: `PlexSettings` (`plex:` section of the config).
        rate_limiter: Shared limiter; default a `TokenBucketRateLimiter` at `rate_limit_per_minute`.
        breaker: Circuit breaker around every attempt; default one `CircuitBreaker("plex-connect")` from settings.
        retry: Retry policy around every attempt; default `RetryPolicy.from_settings(settings.retry)`.
        on_dead_letter: Receives every row that fails validation (it must not raise); the row is skipped.
        transport: An httpx transport (for tests: a recording wrapper, or a mock); default the pooled HTTP/1.1+2 one.
        metrics: `ExtractorMetrics` to count requests, records and dead letters (optional).
        batch_size: Records per yielded batch.
        limit_scope: `"api_key"` (default): one rate-limit bucket for all PCNs of the key, since Plex documents
            200 calls/min but not whether per key or per tenant (`docs/plex-client.md`); `"pcn"`: one bucket per PCN.
        max_window_bytes: A splittable window whose body passes this size is split instead of buffered further
            (bodies are buffered per window, at most `max_concurrency + 1` at once; 16 MiB is ~27k production rows).
        strict: Raise `RecordValidationError` on the first bad row instead of dead-lettering it.
    """

    def __init__(
        self,
        settings: PlexSettings,
        *,
        rate_limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        retry: RetryPolicy | None = None,
        on_dead_letter: DeadLetterCallback | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: ExtractorMetrics | None = None,
        batch_size: int = 1000,
        limit_scope: RateLimitScope = "api_key",
        max_window_bytes: int | None = 16 * 1024 * 1024,
        strict: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}", field="batch_size")
        self.settings = settings
        self._metrics = metrics
        self._rate_limiter = rate_limiter if rate_limiter is not None else default_limiter(settings)
        self._breaker: AsyncBreaker = (
            breaker if breaker is not None else default_breaker(settings, "plex-connect", metrics)
        )
        self._retry = retry if retry is not None else default_retry(settings, "plex", metrics)
        self._on_dead_letter = on_dead_letter
        self._transport = transport
        self._batch_size = batch_size
        self._limit_scope: RateLimitScope = limit_scope
        self._max_window_bytes = max_window_bytes
        self._strict = strict
        self._min_window = timedelta(seconds=settings.min_window_s)
        self._http: httpx.AsyncClient | None = None
        self._session: ConnectSession | None = None
        self._datasources = DataSourceAccounts(
            settings,
            default_retry(settings, "plex-datasource", metrics),
            default_breaker(settings, "plex-datasource", metrics),
            transport,
        )

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        timeout = httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s)
        connections = self.settings.max_concurrency * 2 + 4
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url,
            http2=self.settings.http2,
            timeout=timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            transport=self._transport,
            headers={"User-Agent": "plex-cognite"},
            follow_redirects=False,
        )
        self._session = ConnectSession(
            self._http,
            api_key=self.settings.api_key.get_secret_value(),
            pcns=self.settings.pcns,
            tenant_ids=self.settings.tenant_ids,
            limiter=self._rate_limiter,
            breaker=self._breaker,
            max_concurrency=self.settings.max_concurrency,
            limit_scope=self._limit_scope,
            on_request=functools.partial(self._metrics.record_request, "plex") if self._metrics is not None else None,
        )
        await self._datasources.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pools (also done by leaving `async with`)."""
        await self._datasources.aclose()
        if self._http is not None:
            await self._http.aclose()
        self._http = None
        self._session = None

    @property
    def datasource(self) -> DataSourceClient:
        """The Data Source API client of the default account (`plex.datasource.username`/`password`).

        With accounts per PCN use `datasource_for(pcn)`.

        Raises:
            ConfigurationError: `plex.datasource` is not configured, has no default account, or the client is not
                open.
        """
        return self._datasources.default()

    async def datasource_for(self, pcn: str) -> DataSourceClient:
        """The Data Source API client of `pcn`'s account (`plex.datasource.credentials`, else the default account).

        A web-service account belongs to one PCN, so each PCN with its own entry gets its own client (opened on first
        use, closed with this client); they share one retry policy and one circuit breaker.

        Raises:
            ConfigurationError: `plex.datasource` is not configured, `pcn` has no account, or the client is not open.
        """
        return await self._datasources.for_pcn(pcn)

    @property
    def session(self) -> ConnectSession:
        """The open request session (for extensions); raises when the client is not open."""
        if self._session is None:
            raise ConfigurationError("AsyncPlexClient is not open; use `async with AsyncPlexClient(...) as plex:`")
        return self._session

    # -- list endpoints ----------------------------------------------------------------------------------------

    def iter_buildings(self, pcn: str) -> AsyncGenerator[list[Building], None]:
        """Buildings of `pcn` (`GET /mdm/v1/buildings`), in batches."""
        return self.iter_list(pcn, PATHS["buildings"], Building, stream="buildings")

    def iter_workcenters(self, pcn: str) -> AsyncGenerator[list[Workcenter], None]:
        """Workcenters of `pcn` (`GET .../production-definitions/workcenters`), in batches."""
        return self.iter_list(pcn, PATHS["workcenters"], Workcenter, stream="workcenters")

    def iter_parts(self, pcn: str, *, status: str | None = None) -> AsyncGenerator[list[Part], None]:
        """Parts of `pcn` (`GET /mdm/v1/parts`), optionally only one `status` (e.g. "Active"), in batches."""
        params = {"status": status} if status else None
        return self.iter_list(pcn, PATHS["parts"], Part, stream="parts", params=params)

    def iter_jobs(self, pcn: str, *, statuses: Sequence[str] | None = None) -> AsyncGenerator[list[Job], None]:
        """Jobs of `pcn` (`GET /scheduling/v1/jobs`, 100k+ rows in one array), streamed in batches.

        Args:
            pcn: The PCN.
            statuses: Only jobs with these `jobStatus` values (sent as repeated `jobStatuses`).
        """
        params: QueryParams | None = {"jobStatuses": list(statuses)} if statuses else None
        return self.iter_list(pcn, PATHS["jobs"], Job, stream="jobs", params=params)

    def iter_job_operations(self, pcn: str, job_id: str) -> AsyncGenerator[list[JobOperation], None]:
        """Operations of one job (`GET /scheduling/v1/jobs/{id}/operations`), in batches."""
        path = PATHS["job_operations"].format(id=quote(job_id, safe=""))
        return self.iter_list(pcn, path, JobOperation, stream="job_operations")

    def iter_locations(self, pcn: str) -> AsyncGenerator[list[Location], None]:
        """Inventory locations of `pcn` (`GET /inventory/v1/inventory-definitions/locations`), in batches."""
        return self.iter_list(pcn, PATHS["locations"], Location, stream="locations")

    def iter_containers(self, pcn: str) -> AsyncGenerator[list[Container], None]:
        """The active containers of `pcn` (`GET /inventory/v1/inventory-tracking/containers`), in batches.

        This is a full snapshot, and the iterator says whether it was read completely: it **ends normally only
        after the whole array was read**; any failure (an error status after retries, a malformed or truncated
        body, a stream that kept breaking) raises instead of ending early. Code that deletes what is missing from
        the snapshot must therefore act only after the loop finished without an exception. Like every list
        endpoint, a body that broke mid-way is read again from the start, so a container may arrive twice: key
        the snapshot by `serial_no`. Rows that fail validation are dead-lettered and skipped: the snapshot is
        still complete, but those containers are not in it (a deleting caller passes their serial numbers as
        `retained` to `plex_cognite.extractors._inventory.raw_keys_to_delete`).
        """
        return self.iter_list(pcn, PATHS["containers"], Container, stream="containers")

    async def list_workcenter_statuses(self, pcn: str) -> list[WorkcenterStatus]:
        """All workcenter status definitions of `pcn` (a short list), with their classification flags."""
        statuses: list[WorkcenterStatus] = []
        async for batch in self.iter_list(
            pcn, PATHS["workcenter_statuses"], WorkcenterStatus, stream="workcenter_statuses"
        ):
            statuses.extend(batch)
        return statuses

    async def iter_list(
        self,
        pcn: str,
        path: str,
        model: type[RecordT],
        *,
        stream: str,
        params: QueryParams | None = None,
    ) -> AsyncGenerator[list[RecordT], None]:
        """Stream any list endpoint that answers one bare JSON array, as batches of `model`.

        The body is parsed as it arrives; memory stays about one batch. If the connection breaks mid-body the
        list is read again from the start (at most twice), so a batch may be delivered twice: snapshot consumers
        upsert, which makes that harmless.

        Args:
            pcn: The PCN.
            path: Endpoint path (for example `/mdm/v1/operations`).
            model: Record type (a `PlexRecord` subclass, or your own pydantic model).
            stream: Stream name for dead letters and metrics.
            params: Query parameters.

        Yields:
            Non-empty lists of valid records, at most `batch_size` long.

        Raises:
            PlexAPIError: Plex answered an error that is not retryable, or retries ran out.
            SourceError: The body is not a JSON array, or the stream kept breaking.
        """
        session = self.session
        validator = self._validator(stream, pcn)
        restarts = 0
        while True:
            response = await self._retry.acall(session.open_stream, path, pcn, params)
            try:
                async for records in iter_record_batches(response.aiter_bytes(), validator, model, self._batch_size):
                    self._count(pcn, stream, len(records))
                    yield records
                return
            except httpx.TransportError as exc:
                if restarts >= _MAX_STREAM_RESTARTS:
                    raise SourceError(
                        f"the {stream} stream for PCN {pcn} broke {restarts + 1} times mid-body ({exc!r}); "
                        "try again later"
                    ) from exc
                restarts += 1
                _log.warning("plex stream broke mid-body; reading it again", stream=stream, pcn=pcn, error=repr(exc))
            finally:
                await response.aclose()

    # -- history endpoints -------------------------------------------------------------------------------------
    #
    # One window at a time (`read_*`, what extractors use: they plan the windows and commit them), or a whole range
    # cut into windows and read ahead concurrently (`iter_*_windows`, for scripts). Both plan windows the same way
    # (`plex_cognite.core.windows.plan_windows`, aligned to the range start) and read each with `WindowReader`.

    async def read_production_entries(self, pcn: str, window: TimeWindow) -> list[ProductionEntry]:
        """Production entries with `transactionDate` in the half-open `window` (see `read_history`)."""
        return await self.read_history(
            pcn, PATHS["production_entries"], ProductionEntry, window, stream="production", time_of=_transaction_date
        )

    async def read_scrap_entries(self, pcn: str, window: TimeWindow) -> list[ScrapEntry]:
        """Scrap entries with `transactionDate` in the half-open `window` (see `read_history`)."""
        return await self.read_history(
            pcn, PATHS["scrap_entries"], ScrapEntry, window, stream="scrap", time_of=_transaction_date
        )

    async def read_workcenter_status_entries(self, pcn: str, window: TimeWindow) -> list[WorkcenterStatusEntry]:
        """Workcenter status log entries with `logDate` in the half-open `window` (see `read_history`)."""
        return await self.read_history(
            pcn,
            PATHS["workcenter_status_entries"],
            WorkcenterStatusEntry,
            window,
            stream="workcenter_status",
            time_of=_log_date,
        )

    async def read_container_moves(self, pcn: str, window: TimeWindow) -> list[ContainerLocationMove]:
        """Container location moves with `adjustmentDate` in the half-open `window` (see `read_history`)."""
        return await self.read_history(
            pcn,
            PATHS["container_location_moves"],
            ContainerLocationMove,
            window,
            stream="container_moves",
            time_of=_adjustment_date,
        )

    async def read_history(
        self,
        pcn: str,
        path: str,
        model: type[RecordT],
        window: TimeWindow,
        *,
        stream: str,
        time_of: Callable[[RecordT], datetime],
        params: QueryParams | None = None,
    ) -> list[RecordT]:
        """Every valid record of a `*-history` endpoint in one half-open window.

        A window that times out (or whose body passes `max_window_bytes`) is split in half and its halves read
        instead, down to `min_window_s`; below that, timeouts are retried like other transient errors. Rows outside
        `[start, end)` are dropped (Plex's boundary semantics are not documented), so a row on a boundary is
        delivered once, by the window it starts. Malformed rows go to the dead-letter callback.

        Args:
            pcn: The PCN.
            path: Endpoint path.
            model: Record type.
            window: `(start, end)`, aware datetimes.
            stream: Stream name for dead letters and metrics.
            time_of: The record's time (what windows are cut by).
            params: Extra query parameters.

        Raises:
            PlexAPIError: A non-retryable error, or retries ran out.
        """
        start, end = window
        return await self._window_reader().read_window(
            pcn, path, model, Window(start, end), self._validator(stream, pcn), time_of, params
        )

    async def _read_history_fields(
        self,
        pcn: str,
        path: str,
        model: type[RecordT],
        window: TimeWindow,
        fields: tuple[str, ...],
        *,
        stream: str,
        time_of: Callable[[Any], datetime],
    ) -> list[RecordT | tuple[Any, ...]]:
        """As `read_history`, each row `FastRows` decodes as the tuple of its `fields` (for the built-in extractors).

        The same rows are dead-lettered for the same reasons; rows pydantic validates still come as records, so
        `time_of` is given both.
        """
        start, end = window
        return await self._window_reader().read_window(
            pcn, path, model, Window(start, end), self._validator(stream, pcn), time_of, fields=fields
        )

    def iter_production_windows(
        self, pcn: str, begin: datetime, end: datetime, window: timedelta = _DEFAULT_WINDOW
    ) -> AsyncGenerator[WindowBatch[ProductionEntry], None]:
        """Production entries in `[begin, end)`, per window, in window order (see `iter_history_windows`)."""
        return self.iter_history_windows(
            pcn,
            PATHS["production_entries"],
            ProductionEntry,
            begin,
            end,
            window,
            stream="production",
            time_of=_transaction_date,
        )

    def iter_scrap_windows(
        self, pcn: str, begin: datetime, end: datetime, window: timedelta = _DEFAULT_WINDOW
    ) -> AsyncGenerator[WindowBatch[ScrapEntry], None]:
        """Scrap entries in `[begin, end)`, per window, in window order (see `iter_history_windows`)."""
        return self.iter_history_windows(
            pcn, PATHS["scrap_entries"], ScrapEntry, begin, end, window, stream="scrap", time_of=_transaction_date
        )

    def iter_workcenter_status_windows(
        self, pcn: str, begin: datetime, end: datetime, window: timedelta = _DEFAULT_WINDOW
    ) -> AsyncGenerator[WindowBatch[WorkcenterStatusEntry], None]:
        """Workcenter status log entries with `logDate` in `[begin, end)`, per window, in window order."""
        return self.iter_history_windows(
            pcn,
            PATHS["workcenter_status_entries"],
            WorkcenterStatusEntry,
            begin,
            end,
            window,
            stream="workcenter_status",
            time_of=_log_date,
        )

    def iter_container_move_windows(
        self, pcn: str, begin: datetime, end: datetime, window: timedelta = _DEFAULT_WINDOW
    ) -> AsyncGenerator[WindowBatch[ContainerLocationMove], None]:
        """Container location moves with `adjustmentDate` in `[begin, end)`, per window, in window order.

        Read like every history endpoint (`beginDate`/`endDate` windows, split when slow or too large); a move
        without a valid `adjustmentDate` or `serialNo`, or with a wrongly typed field, is a dead letter.
        """
        return self.iter_history_windows(
            pcn,
            PATHS["container_location_moves"],
            ContainerLocationMove,
            begin,
            end,
            window,
            stream="container_moves",
            time_of=_adjustment_date,
        )

    def iter_production_entries(
        self, pcn: str, begin: datetime, end: datetime, *, window: timedelta = _DEFAULT_WINDOW
    ) -> AsyncGenerator[list[ProductionEntry], None]:
        """Production entries in `[begin, end)` as plain batches (windows hidden; use `*_windows` to commit)."""
        return _records_only(self.iter_production_windows(pcn, begin, end, window))

    def iter_scrap_entries(
        self, pcn: str, begin: datetime, end: datetime, *, window: timedelta = _DEFAULT_WINDOW
    ) -> AsyncGenerator[list[ScrapEntry], None]:
        """Scrap entries in `[begin, end)` as plain batches."""
        return _records_only(self.iter_scrap_windows(pcn, begin, end, window))

    def iter_workcenter_status_entries(
        self, pcn: str, begin: datetime, end: datetime, *, window: timedelta = _DEFAULT_WINDOW
    ) -> AsyncGenerator[list[WorkcenterStatusEntry], None]:
        """Workcenter status entries in `[begin, end)` as plain batches."""
        return _records_only(self.iter_workcenter_status_windows(pcn, begin, end, window))

    async def iter_history_windows(
        self,
        pcn: str,
        path: str,
        model: type[RecordT],
        begin: datetime,
        end: datetime,
        window: timedelta,
        *,
        stream: str,
        time_of: Callable[[RecordT], datetime],
        params: QueryParams | None = None,
    ) -> AsyncGenerator[WindowBatch[RecordT], None]:
        """Read a `*-history` endpoint in half-open windows, concurrently, delivered in window order.

        Up to `max_concurrency` windows are fetched at once (each under the rate limiter); a window's batches are
        yielded only after the whole window was read successfully, so a failure never leaves a half-delivered
        window. A window that times out (or whose body passes `max_window_bytes`) is split in half and its halves
        read instead, down to `min_window_s`; below that, timeouts are retried like other transient errors.
        Plex's boundary semantics are not documented, so rows outside `[start, end)` are dropped here: a row on
        a boundary is delivered once, by the window it starts.

        Args:
            pcn: The PCN.
            path: Endpoint path.
            model: Record type.
            begin: Inclusive start (aware).
            end: Exclusive end (aware).
            window: Window length.
            stream: Stream name for dead letters and metrics.
            time_of: The record's time (what windows are cut by).
            params: Extra query parameters (for example `{"workcenterId": ...}`).

        Yields:
            `WindowBatch`es; the last batch of each (sub-)window has `complete=True`, also when it is empty.

        Raises:
            PlexAPIError: A non-retryable error, or retries ran out, for some window (earlier windows were
                delivered before it).
        """
        batches = self._window_reader().iter_windows(
            pcn, path, model, iter_windows(begin, end, window), self._validator(stream, pcn), time_of, params
        )
        async for batch in batches:
            yield batch

    # -- helpers -----------------------------------------------------------------------------------------------

    def _window_reader(self) -> WindowReader:
        return WindowReader(
            self.session,
            self._retry,
            min_window=self._min_window,
            deadline_s=self.settings.timeout_s,
            max_window_bytes=self._max_window_bytes,
            batch_size=self._batch_size,
            lookahead=self.settings.max_concurrency,
            on_records=self._count,
        )

    def _validator(self, stream: str, pcn: str) -> RowValidator:
        on_rejected = self._metrics.record_dead_letter if self._metrics is not None else None
        return RowValidator(
            stream, pcn, on_dead_letter=self._on_dead_letter, strict=self._strict, on_rejected=on_rejected
        )

    def _count(self, pcn: str, stream: str, records: int) -> None:
        if self._metrics is not None:
            self._metrics.record_read(pcn, stream, records)


def _transaction_date(record: ProductionEntry | ScrapEntry) -> datetime:
    return record.transaction_date


def _log_date(record: WorkcenterStatusEntry) -> datetime:
    return record.log_date


def _adjustment_date(record: ContainerLocationMove) -> datetime:
    return record.adjustment_date


async def _records_only(batches: AsyncIterator[WindowBatch[RecordT]]) -> AsyncGenerator[list[RecordT], None]:
    async for batch in batches:
        if batch.records:
            yield batch.records
