"""The Plex Data Source API ("UX data sources"): `POST /api/datasources/{id}/execute` with Basic auth.

```python
async with DataSourceClient(settings.plex.datasource) as ds:
    result = await ds.execute(18765, {"Start_Date": start, "End_Date": end})     # format 2: rows as dicts
    if result.row_limit_exceeded:
        ...                                                                       # rows were cut off
    async for part in ds.execute_windowed(18765, {}, start, end):                 # halves windows until
        rows.extend(part.result.rows)                                             # no window is truncated
```

Facts this follows (see `docs/plex-client.md`): format 1 answers `{"tables": [{"columns": [...], "rows": [[...]]}]}`,
format 2 (`?format=2`, body = the inputs object) answers `{"rows": [{...}]}`; every data source has a read row
limit and flags a cut with `rowLimitExceeded`, spelled `rowLimitedExceeded` at the top level and
`limitExceeded` inside the table in Plex's own docs (all three are accepted, at either level); an `errors[]` list
means failure even with HTTP 200.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeAlias

import httpx

from plex_cognite.errors import ConfigurationError, PlexAPIError, SourceError, parse_retry_after
from plex_cognite.observability.logs import get_logger
from plex_cognite.plex._dates import Window, format_plex_datetime, iter_windows
from plex_cognite.resilience.breaker import CircuitBreaker
from plex_cognite.resilience.retry import RetryPolicy
from plex_cognite.typing import JSONValue

if TYPE_CHECKING:
    from plex_cognite.config import DataSourceSettings

__all__ = [
    "ROW_LIMIT_FLAGS",
    "DataSourceClient",
    "DataSourceResult",
    "DataSourceWindowResult",
    "InputValue",
    "parse_result",
]

_log = get_logger("plex_cognite.plex")

#: Spellings of the row-limit flag found in Plex's documentation (checked at the top level and in each table).
ROW_LIMIT_FLAGS = ("rowLimitExceeded", "rowLimitedExceeded", "limitExceeded")
#: A data-source input: JSON values, or an aware datetime (sent as `YYYY-MM-DDThh:mm:ss.fffffffZ`).
InputValue: TypeAlias = "JSONValue | datetime"


@dataclass(frozen=True, slots=True)
class DataSourceResult:
    """What one data-source execution returned.

    Attributes:
        datasource_id: The data source executed.
        rows: The rows as dicts (format 1 tables are converted using their `columns`).
        columns: Column names (format 1; for format 2 the keys of the first row).
        outputs: Direct output values.
        row_limit_exceeded: True when Plex cut the rows at the data source's read row limit.
        transaction_no: Plex's transaction number for the call (a string), when sent.
    """

    datasource_id: int
    rows: list[dict[str, Any]]
    columns: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    row_limit_exceeded: bool = False
    transaction_no: str | None = None


@dataclass(frozen=True, slots=True)
class DataSourceWindowResult:
    """One date window of `execute_windowed` and its result.

    Attributes:
        window: The `[start, end)` window sent as the date inputs.
        result: Its result; `result.row_limit_exceeded` is still True only when the window could not be split
            further (it is at the minimum window) and Plex still cut it.
    """

    window: Window
    result: DataSourceResult


def _flag(container: Mapping[str, Any]) -> bool:
    return any(container.get(name) is True for name in ROW_LIMIT_FLAGS)


def _errors(body: object) -> list[dict[str, Any]]:
    """The `errors[]` entries of a decoded body (objects only; [] for anything else)."""
    if not isinstance(body, dict):
        return []
    return [item for item in body.get("errors") or [] if isinstance(item, dict)]


def _code(entry: Mapping[str, Any]) -> str | None:
    return str(entry["code"]) if entry.get("code") else None


def _encode(inputs: Mapping[str, InputValue] | None) -> dict[str, JSONValue]:
    encoded: dict[str, JSONValue] = {}
    for name, value in (inputs or {}).items():
        encoded[name] = format_plex_datetime(value) if isinstance(value, datetime) else value
    return encoded


def parse_result(datasource_id: int, body: Any, *, status: int = 200) -> DataSourceResult:
    """Interpret an execute answer (either format).

    Args:
        datasource_id: The data source, for messages.
        body: The decoded JSON body.
        status: The HTTP status it came with.

    Returns:
        The result.

    Raises:
        PlexAPIError: The body has a non-empty `errors[]` (status 0 when it came with HTTP 200), or is not an object.
    """
    if not isinstance(body, dict):
        raise PlexAPIError(status if status >= 400 else 0, f"data source {datasource_id} answered a non-object body")
    errors = _errors(body)
    if errors:
        first = errors[0]
        raise PlexAPIError(
            status if status >= 400 else 0,
            f"data source {datasource_id}: {first.get('message') or 'error'}",
            code=_code(first),
            errors=errors,
            path=f"/api/datasources/{datasource_id}/execute",
        )
    limited = _flag(body)
    columns: list[str] = []
    rows: list[dict[str, Any]] = []
    if isinstance(body.get("rows"), list):
        rows = [row for row in body["rows"] if isinstance(row, dict)]
        columns = list(rows[0]) if rows else []
    for table in body.get("tables") or []:
        if not isinstance(table, dict):
            continue
        limited = limited or _flag(table)
        names = [str(name) for name in table.get("columns") or []]
        columns = columns or names
        rows.extend(dict(zip(names, values, strict=False)) for values in table.get("rows") or [])
    outputs = body.get("outputs") if isinstance(body.get("outputs"), dict) else {}
    transaction = body.get("transactionNo")
    return DataSourceResult(
        datasource_id=datasource_id,
        rows=rows,
        columns=columns,
        outputs=dict(outputs or {}),
        row_limit_exceeded=limited,
        transaction_no=str(transaction) if transaction is not None else None,
    )


class DataSourceClient:
    """Async client for the Plex Data Source API (Basic auth with a web-service account).

    Args:
        settings: `DataSourceSettings` (`plex.datasource` in the config file).
        retry: Retry policy per execution (default from `RetrySettings()` defaults, named `plex-datasource`).
            Executions are POSTs; pass `RetryPolicy(max_attempts=1)` for data sources that write.
        breaker: Circuit breaker (default `CircuitBreaker("plex-datasource")`).
        transport: httpx transport (tests).
        timeout_s: Read timeout per request.
        connect_timeout_s: Connect timeout.
    """

    def __init__(
        self,
        settings: DataSourceSettings,
        *,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self._retry = retry if retry is not None else RetryPolicy(name="plex-datasource")
        self._breaker = breaker if breaker is not None else CircuitBreaker("plex-datasource")
        self._transport = transport
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        username, password = self.settings.username, self.settings.password
        if username is None or password is None:
            raise ConfigurationError(
                "this DataSourceClient has no account; pass settings.for_pcn(pcn), or set plex.datasource.username "
                "and password",
                field="plex.datasource.username",
            )
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url,
            auth=httpx.BasicAuth(username.get_secret_value(), password.get_secret_value()),
            timeout=self._timeout,
            transport=self._transport,
            headers={"Accept": "application/json", "User-Agent": "plex-cognite"},
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def execute(
        self, datasource_id: int, inputs: Mapping[str, InputValue] | None = None, *, format: Literal[1, 2] = 2
    ) -> DataSourceResult:
        """Execute a data source once.

        Args:
            datasource_id: The data source id (ids differ per tenant; find them with the search endpoint).
            inputs: Input values by exact (case-sensitive) name; datetimes are sent in the Plex format.
            format: 2 (rows as objects, `?format=2`, body = inputs) or 1 (a table of columns and row arrays,
                body = `{"inputs": ...}`).

        Returns:
            The rows, outputs and the row-limit flag.

        Raises:
            PlexAPIError: An error status, or an `errors[]` body (also with HTTP 200). 401 says to check
                `plex.datasource.username`/`password`.
        """
        if format not in (1, 2):
            raise ConfigurationError(f"data source format must be 1 or 2, got {format!r}")
        return await self._retry.acall(self._execute_once, datasource_id, _encode(inputs), format)

    async def _execute_once(self, datasource_id: int, inputs: dict[str, JSONValue], format: int) -> DataSourceResult:
        if self._http is None:
            raise ConfigurationError("DataSourceClient is not open; use `async with DataSourceClient(...)`")
        path = f"/api/datasources/{int(datasource_id)}/execute"
        params = {"format": "2"} if format == 2 else None
        body = inputs if format == 2 else {"inputs": inputs}
        async with self._breaker:
            response = await self._http.post(
                path, params=params, json=body, headers={"Content-Type": "application/json; charset=utf-8"}
            )
        try:
            decoded = response.json() if response.content else None
        except ValueError:
            decoded = None
        if response.status_code >= 400:
            raise self._error(response, decoded, datasource_id, path)
        if decoded is None:
            raise SourceError(f"data source {datasource_id} answered HTTP {response.status_code} without JSON")
        return parse_result(datasource_id, decoded, status=response.status_code)

    def _error(self, response: httpx.Response, decoded: Any, datasource_id: int, path: str) -> PlexAPIError:
        errors = _errors(decoded)
        first = errors[0] if errors else (decoded if isinstance(decoded, dict) else {})
        message = str(first.get("message") or response.reason_phrase or f"HTTP {response.status_code}")
        if response.status_code == 401:
            message += " (check plex.datasource.username and password: a Plex web-service account, not the API key)"
        elif response.status_code == 403:
            message += f" (the account is not granted data source {datasource_id})"
        return PlexAPIError(
            response.status_code,
            message,
            code=_code(first),
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            errors=errors,
            path=path,
        )

    async def execute_windowed(
        self,
        datasource_id: int,
        inputs: Mapping[str, InputValue] | None,
        begin: datetime,
        end: datetime,
        *,
        window: timedelta | None = None,
        begin_input: str = "Start_Date",
        end_input: str = "End_Date",
        min_window: timedelta = timedelta(minutes=1),
        format: Literal[1, 2] = 2,
    ) -> AsyncGenerator[DataSourceWindowResult, None]:
        """Execute over `[begin, end)` in date windows, halving any window whose rows were cut at the row limit.

        Args:
            datasource_id: The data source.
            inputs: Other inputs (the two date inputs are added per window).
            begin: Start (aware).
            end: End (aware).
            window: First cut of `[begin, end)` into windows of this length (None: one window).
            begin_input: Name of the data source's start-date input.
            end_input: Name of its end-date input.
            min_window: Windows are not halved below this; a window that is still cut is yielded with
                `row_limit_exceeded=True` and logged.
            format: Response format (1 or 2).

        Yields:
            One `DataSourceWindowResult` per final window, in time order. The data source decides whether its
            end date is inclusive; rows on a boundary may then appear in two windows.
        """
        size = window if window is not None else end - begin
        for first_cut in iter_windows(begin, end, size):
            async for part in self._execute_window(
                datasource_id, dict(inputs or {}), first_cut, begin_input, end_input, min_window, format
            ):
                yield part

    async def _execute_window(
        self,
        datasource_id: int,
        inputs: dict[str, InputValue],
        window: Window,
        begin_input: str,
        end_input: str,
        min_window: timedelta,
        format: Literal[1, 2],
    ) -> AsyncGenerator[DataSourceWindowResult, None]:
        result = await self.execute(
            datasource_id, {**inputs, begin_input: window.start, end_input: window.end}, format=format
        )
        if result.row_limit_exceeded and window.can_split(min_window):
            for half in window.split():
                async for part in self._execute_window(
                    datasource_id, inputs, half, begin_input, end_input, min_window, format
                ):
                    yield part
            return
        if result.row_limit_exceeded:
            _log.warning(
                "data source rows still cut at the minimum window",
                datasource_id=datasource_id,
                window=str(window),
                rows=len(result.rows),
            )
        yield DataSourceWindowResult(window, result)
