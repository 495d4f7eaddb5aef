"""Helpers shared by the fake-server test modules: one HTTP client, raw FakeCDF calls, fast SDK retries."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from cognite.client import global_config

from plex_cognite.testing.fake_cdf import FakeCDF

#: One client for every module (closed by conftest.py): building one per call costs ~50 ms (its SSL context).
HTTP = httpx.Client(timeout=10)


@contextmanager
def fast_retries(max_retries: int = 3, max_retries_connect: int = 3) -> Iterator[None]:
    """Make the SDK retry quickly (tiny backoff) for tests that inject faults; restores the settings afterwards."""
    saved = (global_config.max_retries, global_config.max_retries_connect, global_config.max_retry_backoff)
    global_config.max_retries = max_retries
    global_config.max_retries_connect = max_retries_connect
    global_config.max_retry_backoff = 0  # waits are then uniform(0, 0.1) s
    try:
        yield
    finally:
        global_config.max_retries, global_config.max_retries_connect, global_config.max_retry_backoff = saved


def api(
    cdf: FakeCDF,
    method: str,
    path: str,
    body: object | None = None,
    *,
    token: str | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One raw API call (gzip JSON body, bearer token) to `{base_url}/api/v1/projects/{project}{path}`."""
    all_headers = {"authorization": f"Bearer {token or cdf.token}", "content-type": "application/json"}
    content = None
    if body is not None:
        content = gzip.compress(json.dumps(body).encode())
        all_headers["content-encoding"] = "gzip"
    all_headers.update(headers or {})
    url = f"{cdf.base_url}/api/v1/projects/{cdf.project}{path}"
    return HTTP.request(method, url, content=content, headers=all_headers, params=params, timeout=30)
