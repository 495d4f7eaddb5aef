from __future__ import annotations

import email.utils
import time

import httpx
import pytest
from cognite.client.exceptions import (
    CogniteAPIError,
    CogniteConnectionError,
    CogniteDuplicatedError,
    CogniteHTTPStatusError,
    CogniteNotFoundError,
    CogniteReadTimeout,
)
from hypothesis import given
from hypothesis import strategies as st

from plex_cognite.errors import (
    CogniteWriteError,
    ConfigurationError,
    ErrorCategory,
    PlexAPIError,
    RecordValidationError,
    StateError,
    classify,
    parse_retry_after,
)


def _status_error(status: int, headers: dict[str, str] | None = None, body: str = "") -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "https://connect.plex.com/mdm/v1/parts")
    response = httpx.Response(status, headers=headers, text=body, request=request)
    return httpx.HTTPStatusError("boom", request=request, response=response)


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (429, ErrorCategory.RATE_LIMITED),
        (500, ErrorCategory.RETRYABLE),
        (502, ErrorCategory.RETRYABLE),
        (503, ErrorCategory.RETRYABLE),
        (504, ErrorCategory.RETRYABLE),
        (408, ErrorCategory.RETRYABLE),
        (400, ErrorCategory.FATAL),
        (401, ErrorCategory.FATAL),
        (403, ErrorCategory.FATAL),
        (404, ErrorCategory.FATAL),
        (409, ErrorCategory.FATAL),
    ],
)
def test_httpx_status_errors_are_classified_by_status(status: int, category: ErrorCategory) -> None:
    result = classify(_status_error(status))
    assert result.category is category
    assert result.status == status


def test_429_carries_retry_after_seconds() -> None:
    result = classify(_status_error(429, {"Retry-After": "7"}))
    assert result.category is ErrorCategory.RATE_LIMITED
    assert result.retry_after == 7.0
    assert result.retryable


def test_403_quota_message_is_a_rate_limit() -> None:
    assert classify(_status_error(403, body='{"message": "Usage quota exceeded"}')).category is (
        ErrorCategory.RATE_LIMITED
    )


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        TimeoutError(),
        ConnectionResetError(),
        CogniteConnectionError(),
        CogniteReadTimeout(),
    ],
)
def test_transport_failures_are_retryable(exc: BaseException) -> None:
    assert classify(exc).category is ErrorCategory.RETRYABLE


def test_cognite_sdk_exceptions() -> None:
    assert classify(CogniteAPIError("x", code=503)).category is ErrorCategory.RETRYABLE
    assert classify(CogniteAPIError("x", code=429)).category is ErrorCategory.RATE_LIMITED
    assert classify(CogniteAPIError("x", code=500)).category is ErrorCategory.RETRYABLE
    assert (
        classify(CogniteDuplicatedError("dup", 409, duplicated=[{"externalId": "a"}])).category is ErrorCategory.FATAL
    )
    assert classify(CogniteNotFoundError("missing", 400, missing=[{"id": 1}])).category is ErrorCategory.FATAL
    request = httpx.Request("POST", "http://127.0.0.1/x")
    http_error = CogniteHTTPStatusError(502, request=request, response=httpx.Response(502))  # type: ignore[arg-type]
    assert classify(http_error).category is ErrorCategory.RETRYABLE


def test_own_errors() -> None:
    assert classify(RecordValidationError("bad row")).category is ErrorCategory.SKIPPABLE
    assert classify(ConfigurationError("bad", field="plex.pcns")).category is ErrorCategory.FATAL
    assert classify(StateError("corrupt")).category is ErrorCategory.FATAL
    assert classify(PlexAPIError(429, "slow down", retry_after=3)).retry_after == 3
    assert classify(PlexAPIError(401, "no")).category is ErrorCategory.FATAL
    assert classify(PlexAPIError(0, "DATA_SOURCE_ERROR in 200 body")).category is ErrorCategory.FATAL
    assert classify(CogniteWriteError("x", resource="events", status=503)).category is ErrorCategory.RETRYABLE
    assert classify(ValueError("bug")).category is ErrorCategory.FATAL


def test_plex_api_error_message_names_status_code_and_path() -> None:
    err = PlexAPIError(
        401,
        "The request could not be authenticated.",
        code="REQUEST_NOT_AUTHENTICATED",
        path="/mdm/v1/parts",
        request_id="abc",
    )
    assert str(err) == (
        "Plex API error 401: REQUEST_NOT_AUTHENTICATED: The request could not be authenticated. "
        "(path /mdm/v1/parts) [request id abc]"
    )


@pytest.mark.parametrize("header", [None, "", "  ", "-1", "nan", "inf", "soon", "Tue, 99 Foo 2026"])
def test_garbage_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header) is None


def test_retry_after_http_date() -> None:
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30, abs=1)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_retry_after_seconds_round_trip(seconds: float) -> None:
    assert parse_retry_after(repr(seconds)) == seconds


def test_503_keeps_retry_after() -> None:
    result = classify(_status_error(503, {"Retry-After": "2"}))
    assert result.category is ErrorCategory.RETRYABLE
    assert result.retry_after == 2.0


def test_cognite_project_access_error_is_a_fatal_401() -> None:
    from cognite.client.exceptions import CogniteProjectAccessError

    result = classify(CogniteProjectAccessError(project="p", x_request_id=None, maybe_projects=None))
    assert result.category is ErrorCategory.FATAL
    assert result.status == 401
