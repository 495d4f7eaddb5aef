from __future__ import annotations

from collections.abc import Iterator

import pytest
from cognite.client import AsyncCogniteClient, CogniteClient

from plex_cognite.testing.fake_cdf import FakeCDF


@pytest.fixture(scope="module")
def _fake_cdf_server() -> Iterator[FakeCDF]:
    with FakeCDF(project="test-project") as fake:
        yield fake


@pytest.fixture
def fake_cdf(_fake_cdf_server: FakeCDF) -> Iterator[FakeCDF]:
    """One loopback FakeCDF per test module, emptied (state, faults, request log) for every test."""
    fake = _fake_cdf_server
    fake.reset()
    yield fake
    fake.clear_faults()


@pytest.fixture
def client(fake_cdf: FakeCDF) -> CogniteClient:
    return fake_cdf.cognite_client()


@pytest.fixture
def aclient(fake_cdf: FakeCDF) -> AsyncCogniteClient:
    return fake_cdf.async_cognite_client()
