"""Fixtures of the fake-server tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testing._support import HTTP


@pytest.fixture(scope="session", autouse=True)
def _close_shared_http_client() -> Iterator[None]:
    yield
    HTTP.close()
