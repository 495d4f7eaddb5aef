"""Build cognite-sdk clients from `CogniteSettings` (static token or OAuth client credentials)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from cognite.client import AsyncCogniteClient, ClientConfig, CogniteClient, global_config
from cognite.client.credentials import CredentialProvider, OAuthClientCredentials, Token

from plex_cognite.errors import ConfigurationError

if TYPE_CHECKING:
    from plex_cognite.config import CogniteSettings

__all__ = ["build_async_cognite_client", "build_client_config", "build_cognite_client", "no_calls_home"]


def _credentials(settings: CogniteSettings) -> CredentialProvider:
    if settings.token is not None:
        return Token(settings.token.get_secret_value())
    client_id, client_secret, token_url = settings.client_id, settings.client_secret, settings.token_url
    if not client_id or client_secret is None or not token_url:
        missing = [
            name
            for name, value in (("client_id", client_id), ("client_secret", client_secret), ("token_url", token_url))
            if not value
        ]
        raise ConfigurationError(
            f"cdf: set either cdf.token or all of cdf.client_id, cdf.client_secret, cdf.token_url "
            f"(missing: {', '.join('cdf.' + m for m in missing)})",
            field=f"cdf.{missing[0]}",
        )
    return OAuthClientCredentials(
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret.get_secret_value(),
        scopes=list(settings.scopes),
    )


def no_calls_home() -> None:
    """Turn off the cognite-sdk's PyPI version check (a call to pypi.org whenever a client config is made).

    The library talks to Plex and CDF only: plant networks block or flag any other outbound call. Every client
    this library builds calls this first; call it yourself before building your own `ClientConfig` if you want
    the same.
    """
    global_config.disable_pypi_version_check = True


def build_client_config(settings: CogniteSettings) -> ClientConfig:
    """The cognite-sdk `ClientConfig` for these settings (base URL, project, credentials, client name, timeout).

    The cognite-sdk's PyPI version check is turned off first (`no_calls_home`).

    Raises:
        ConfigurationError: When neither a token nor complete client credentials are configured.
    """
    no_calls_home()
    return ClientConfig(
        client_name=settings.client_name,
        project=settings.project,
        credentials=_credentials(settings),
        base_url=settings.base_url,
        timeout=max(1, round(settings.timeout_s)),
    )


def build_cognite_client(settings: CogniteSettings) -> CogniteClient:
    """A synchronous `CogniteClient` (the seed's kind: the resolver's plain calls then run synchronously).

    Args:
        settings: The `cdf` section of the extractor settings.

    Raises:
        ConfigurationError: When neither a token nor complete client credentials are configured.
    """
    return CogniteClient(build_client_config(settings))


def async_client_of(client: CogniteClient | AsyncCogniteClient) -> AsyncCogniteClient:
    """The `AsyncCogniteClient` behind a client: itself, or the one a sync `CogniteClient` wraps."""
    if isinstance(client, AsyncCogniteClient):
        return client
    getter = getattr(client, "get_async_client", None)
    if callable(getter):  # cognite-sdk >= 8.x exposes the wrapped client
        return cast("AsyncCogniteClient", getter())
    no_calls_home()
    return AsyncCogniteClient(client.config)


def build_async_cognite_client(settings: CogniteSettings) -> AsyncCogniteClient:
    """An `AsyncCogniteClient` (what the sinks and the pipeline use).

    Args:
        settings: The `cdf` section of the extractor settings.

    Raises:
        ConfigurationError: When neither a token nor complete client credentials are configured.
    """
    return AsyncCogniteClient(build_client_config(settings))
