"""FakeCDF authentication: bearer token, `POST /token` client credentials, 401 / 403 shapes."""

from __future__ import annotations

import httpx
import pytest
from cognite.client.credentials import OAuthClientCredentials, Token
from cognite.client.data_classes import AssetWrite
from cognite.client.exceptions import CogniteAPIError, CogniteOAuthError, CogniteProjectAccessError

from plex_cognite.testing.fake_cdf import FakeCDF
from tests.testing._support import api


def test_wrong_token_is_401_in_cdf_shape(fake_cdf: FakeCDF) -> None:
    response = api(fake_cdf, "POST", "/assets/list", {}, token="wrong")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": 401, "message": "Unauthorized"}}
    no_header = httpx.post(f"{fake_cdf.base_url}/api/v1/projects/{fake_cdf.project}/assets/list", json={})
    assert no_header.status_code == 401


def test_sdk_raises_project_access_error_on_a_bad_token(fake_cdf: FakeCDF) -> None:
    client = fake_cdf.cognite_client(credentials=Token("wrong"))
    with pytest.raises(CogniteProjectAccessError):
        client.assets.list(limit=1)
    assert fake_cdf.request_counts("GET", "/api/v1/token/inspect") == 1


def test_other_project_is_403(fake_cdf: FakeCDF) -> None:
    url = f"{fake_cdf.base_url}/api/v1/projects/other/assets/list"
    response = httpx.post(url, json={}, headers={"authorization": f"Bearer {fake_cdf.token}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == 403


def test_client_credentials_flow_through_the_sdk(fake_cdf: FakeCDF) -> None:
    client = fake_cdf.cognite_client(credentials=fake_cdf.oauth_credentials())
    client.assets.create(AssetWrite(external_id="a", name="A"))
    assert [a.external_id for a in client.assets.list()] == ["a"]
    assert fake_cdf.request_counts("POST", "/token") == 1  # fetched lazily once, then cached


def test_token_endpoint_answers_like_an_identity_provider(fake_cdf: FakeCDF) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "test-client",
        "client_secret": "test-secret",
        "scope": "s",
    }
    granted = httpx.post(fake_cdf.token_url, data=form)
    assert granted.status_code == 200
    assert set(granted.json()) == {"access_token", "expires_in", "token_type"}
    token = granted.json()["access_token"]
    assert api(fake_cdf, "POST", "/assets/list", {}, token=token).status_code == 200
    refused = httpx.post(fake_cdf.token_url, data={**form, "client_secret": "nope"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_wrong_secret_raises_oauth_error(fake_cdf: FakeCDF) -> None:
    credentials = OAuthClientCredentials(fake_cdf.token_url, "test-client", "wrong", scopes=["s"])
    client = fake_cdf.cognite_client(credentials=credentials)
    with pytest.raises(CogniteOAuthError, match="invalid_client"):
        client.assets.list(limit=1)


def test_expired_issued_token_is_refused() -> None:
    with FakeCDF(token_ttl_s=0) as cdf:
        form = {"grant_type": "client_credentials", "client_id": "test-client", "client_secret": "test-secret"}
        token = httpx.post(cdf.token_url, data=form).json()["access_token"]
        assert api(cdf, "POST", "/assets/list", {}, token=token).status_code == 401


def test_unknown_endpoint_is_404_not_found(fake_cdf: FakeCDF) -> None:
    client = fake_cdf.cognite_client()
    with pytest.raises(CogniteAPIError) as caught:
        client.post("/nothing/here", json={})
    assert caught.value.code == 404
