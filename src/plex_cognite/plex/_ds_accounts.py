"""The Data Source API clients of an `AsyncPlexClient`: the default account, and one client per PCN account."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from plex_cognite.errors import ConfigurationError
from plex_cognite.plex.datasource import DataSourceClient

if TYPE_CHECKING:
    from plex_cognite.config import DataSourceSettings, PlexSettings
    from plex_cognite.resilience.breaker import CircuitBreaker
    from plex_cognite.resilience.retry import RetryPolicy

__all__ = ["DataSourceAccounts"]

_NOT_CONFIGURED = (
    "the Data Source API is not configured; set plex.datasource (credentials per PCN, or username and password)"
)


class DataSourceAccounts:
    """Opens and closes the Data Source clients; every account shares one retry policy and one breaker.

    Args:
        settings: The Plex settings (`plex.datasource` may be None).
        retry: Retry policy for every execution.
        breaker: Circuit breaker for the Data Source API.
        transport: httpx transport (tests).
    """

    def __init__(
        self,
        settings: PlexSettings,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._settings = settings
        self._retry = retry
        self._breaker = breaker
        self._transport = transport
        self._default: DataSourceClient | None = None
        self._by_pcn: dict[str, DataSourceClient] = {}
        self._open = False

    async def open(self) -> None:
        """Open the default account's client (when there is one); per-PCN clients open on first use."""
        datasource = self._settings.datasource
        if datasource is not None and datasource.username is not None:
            self._default = await self._client(datasource)
        self._open = True

    async def aclose(self) -> None:
        """Close every client opened."""
        clients = [*([self._default] if self._default is not None else []), *self._by_pcn.values()]
        self._default = None
        self._by_pcn.clear()
        self._open = False
        for client in clients:
            await client.aclose()

    async def _client(self, settings: DataSourceSettings) -> DataSourceClient:
        client = DataSourceClient(
            settings,
            retry=self._retry,
            breaker=self._breaker,
            transport=self._transport,
            timeout_s=self._settings.timeout_s,
            connect_timeout_s=self._settings.connect_timeout_s,
        )
        await client.__aenter__()
        return client

    def default(self) -> DataSourceClient:
        """The default account's client (see `AsyncPlexClient.datasource`)."""
        datasource = self._settings.datasource
        if datasource is None:
            raise ConfigurationError(_NOT_CONFIGURED, field="plex.datasource")
        if datasource.username is None:
            raise ConfigurationError(
                "plex.datasource has accounts per PCN only; use datasource_for(pcn)", field="plex.datasource.username"
            )
        if self._default is None:
            raise ConfigurationError("AsyncPlexClient is not open; use `async with AsyncPlexClient(...)`")
        return self._default

    async def for_pcn(self, pcn: str) -> DataSourceClient:
        """The client of `pcn`'s account (see `AsyncPlexClient.datasource_for`)."""
        datasource = self._settings.datasource
        if datasource is None:
            raise ConfigurationError(_NOT_CONFIGURED, field="plex.datasource")
        if not self._open:
            raise ConfigurationError("AsyncPlexClient is not open; use `async with AsyncPlexClient(...)`")
        if pcn not in datasource.credentials:
            datasource.for_pcn(pcn)  # raises when there is no default account either
            return self.default()
        client = self._by_pcn.get(pcn)
        if client is None:
            client = self._by_pcn[pcn] = await self._client(datasource.for_pcn(pcn))
        return client
