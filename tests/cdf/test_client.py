from __future__ import annotations

from cognite.client import AsyncCogniteClient, CogniteClient
from cognite.client.credentials import OAuthClientCredentials, Token

from plex_cognite.cdf.client import build_async_cognite_client, build_cognite_client
from plex_cognite.config import CogniteSettings


def test_token_settings_build_a_sync_client() -> None:
    settings = CogniteSettings(
        base_url="http://127.0.0.1:9", project="p", token="secret-token", client_name="me", timeout_s=12
    )
    client = build_cognite_client(settings)
    assert isinstance(client, CogniteClient)
    assert client.config.project == "p"
    assert client.config.base_url == "http://127.0.0.1:9"
    assert client.config.client_name == "me"
    assert client.config.timeout == 12
    assert isinstance(client.config.credentials, Token)


def test_client_credentials_build_an_async_client() -> None:
    settings = CogniteSettings(
        base_url="http://127.0.0.1:9",
        project="p",
        client_id="id",
        client_secret="s3cret",
        token_url="http://127.0.0.1:9/token",
        scopes=["x/.default"],
    )
    client = build_async_cognite_client(settings)
    assert isinstance(client, AsyncCogniteClient)
    credentials = client.config.credentials
    assert isinstance(credentials, OAuthClientCredentials)
    assert credentials.client_id == "id"
    assert "s3cret" not in repr(settings)
