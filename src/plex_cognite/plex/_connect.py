"""One Plex Connect request attempt: auth headers, rate limiter -> breaker -> HTTP, error bodies -> PlexAPIError.

The retry loop lives one level up (`client.py` wraps these attempts in a `RetryPolicy`), so every attempt takes
one rate-limit token and is seen once by the breaker.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Literal, Protocol

import httpx

from plex_cognite.errors import ConfigurationError, PlexAPIError, parse_retry_after
from plex_cognite.typing import RateLimiter

__all__ = [
    "ConnectSession",
    "QueryParams",
    "RateLimitScope",
    "RequestRecorder",
    "endpoint_label",
    "error_from_response",
]

#: Query parameters; a sequence value is sent as a repeated parameter (`?jobStatuses=a&jobStatuses=b`).
QueryParams = Mapping[str, str | Sequence[str]]
#: How rate-limit tokens are keyed: one bucket per API key (default) or one per PCN.
RateLimitScope = Literal["api_key", "pcn"]

_REQUEST_ID_HEADERS = ("x-request-id", "x-correlation-id", "x-plex-request-id")
_ID_SEGMENT = re.compile(r"/[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?=/|$)")


class RequestRecorder(Protocol):
    """Told after every attempt (for metrics; `ExtractorMetrics.request_recorder("plex")` fits).

    Arguments: endpoint template, status (or `"timeout"` / `"error"`), seconds until the answer's headers, and
    seconds the attempt waited for a rate-limit token.
    """

    def __call__(self, endpoint: str, status: int | str, seconds: float, limiter_wait_s: float, /) -> None: ...


def endpoint_label(path: str) -> str:
    """The path with UUID segments replaced by `{id}` (a bounded metrics label)."""
    return _ID_SEGMENT.sub("/{id}", path)


class AsyncBreaker(Protocol):
    """What the client needs from a circuit breaker: an async context around each attempt."""

    async def __aenter__(self) -> object: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...


class WindowTooSlowError(Exception):
    """Internal: a splittable window timed out (never retried as is; the caller splits it)."""


class WindowTooLargeError(Exception):
    """Internal: a splittable window's body grew past the buffer limit (the caller splits it)."""


def _hint(status: int, pcn: str | None) -> str:
    target = f"PCN {pcn}" if pcn else "this tenant"
    if status == 401:
        return (
            f"the API key may have expired (Plex keys can expire every 31 days) or is not entitled to {target}; "
            "check plex.api_key, plex.pcns and plex.tenant_ids"
        )
    if status == 403:
        return f"the app is not allowed this resource for {target} (or a usage quota was hit)"
    if status == 404:
        return "no such resource or id, or the app is not subscribed to this API product"
    return ""


def error_from_response(
    response: httpx.Response, *, path: str, pcn: str | None = None, secrets: Sequence[str] = ()
) -> PlexAPIError:
    """Turn an error answer into a `PlexAPIError` (code and message from a `{code, message, errors[]}` body).

    The body must have been read. Secrets (the API key) are masked if the server echoes them.

    Args:
        response: The error response, body read.
        path: The request path (no query string), for the message.
        pcn: The PCN the request was for, for the hint on 401/403.
        secrets: Strings to mask in anything taken from the body.

    Returns:
        The error, with `retry_after` from a Retry-After header.
    """
    code: str | None = None
    message = response.reason_phrase or f"HTTP {response.status_code}"
    errors: list[dict[str, object]] = []
    try:
        body = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        code = str(body["code"]) if body.get("code") else None
        message = str(body.get("message") or message)
        errors = [item for item in body.get("errors") or [] if isinstance(item, dict)]
    elif response.content:
        text = response.content[:300].decode("utf-8", "replace").strip()
        message = text or message
    hint = _hint(response.status_code, pcn)
    if hint:
        message = f"{message} ({hint})"
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
            errors = [json.loads(json.dumps(item).replace(secret, "***")) for item in errors]
    request_id = next((response.headers[h] for h in _REQUEST_ID_HEADERS if h in response.headers), None)
    return PlexAPIError(
        response.status_code,
        message,
        code=code,
        request_id=request_id,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        errors=errors,
        path=path,
    )


class ConnectSession:
    """Sends single attempts to Plex Connect for several PCNs with one API key.

    Args:
        http: The pooled httpx client (base URL set).
        api_key: The Consumer Key (header `X-Plex-Connect-Api-Key`).
        pcns: The configured PCNs (requests for others are refused).
        tenant_ids: PCN -> tenant UUID; those PCNs are addressed by `X-Plex-Connect-Tenant-Id`.
        limiter: The rate limiter, keyed per API key or per PCN (`limit_scope`).
        breaker: The breaker every attempt runs inside.
        max_concurrency: Most window reads in flight at once.
        limit_scope: `"api_key"`: one bucket for every PCN of the key; `"pcn"`: one bucket per PCN.
        on_request: Told about every attempt (endpoint template, status), for metrics.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        pcns: Sequence[str],
        tenant_ids: Mapping[str, str],
        limiter: RateLimiter,
        breaker: AsyncBreaker,
        max_concurrency: int,
        limit_scope: RateLimitScope = "api_key",
        on_request: RequestRecorder | None = None,
    ) -> None:
        self.http = http
        self._on_request = on_request
        self._api_key = api_key
        self._pcns = frozenset(pcns)
        self._tenant_ids = dict(tenant_ids)
        self.limiter = limiter
        self.breaker = breaker
        self._slots = asyncio.Semaphore(max_concurrency)
        self._limit_scope = limit_scope
        # A stable, non-secret name for the key's bucket (shared limiters, e.g. in Redis, see only this).
        self._key_bucket = "plex:key:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]

    def limiter_key(self, pcn: str) -> str:
        """The rate-limiter key used for requests on behalf of `pcn`."""
        return self._key_bucket if self._limit_scope == "api_key" else f"plex:pcn:{pcn}"

    def headers(self, pcn: str) -> dict[str, str]:
        """Auth and tenancy headers for `pcn` (Tenant-Id when a tenant UUID is configured, else Customer-Id).

        Raises:
            ConfigurationError: `pcn` is not one of the configured PCNs.
        """
        if pcn not in self._pcns:
            raise ConfigurationError(
                f"PCN {pcn!r} is not configured; add it to plex.pcns (configured: {', '.join(sorted(self._pcns))})",
                field="plex.pcns",
            )
        headers = {"X-Plex-Connect-Api-Key": self._api_key, "Accept": "application/json"}
        tenant = self._tenant_ids.get(pcn)
        if tenant:
            headers["X-Plex-Connect-Tenant-Id"] = tenant
        else:
            headers["X-Plex-Connect-Customer-Id"] = pcn
        return headers

    async def raise_for_status(self, response: httpx.Response, path: str, pcn: str) -> None:
        """Read an error body and raise it as `PlexAPIError`; do nothing for 2xx."""
        if response.status_code < 400:
            return
        await response.aread()
        raise error_from_response(response, path=path, pcn=pcn, secrets=(self._api_key,))

    async def _acquire(self, pcn: str) -> float:
        """Take a rate-limit token; returns the seconds spent waiting for it (for metrics)."""
        started = time.perf_counter()
        await self.limiter.acquire(self.limiter_key(pcn))
        return time.perf_counter() - started

    async def _send(self, request: httpx.Request, path: str, pcn: str, waited: float) -> httpx.Response:
        """Send and check the status; an error answer is read, closed and raised as `PlexAPIError`."""
        started = time.perf_counter()
        status: int | str | None = None  # stays None on cancellation: not an outcome of the call
        try:
            response = await self.http.send(request, stream=True)
            status = response.status_code
        except httpx.TimeoutException:
            status = "timeout"
            raise
        except httpx.TransportError:
            status = "error"
            raise
        finally:
            # Timed until the headers: a streamed body is bounded by the caller's window deadline instead.
            if status is not None and self._on_request is not None:
                self._on_request(endpoint_label(path), status, time.perf_counter() - started, waited)
        try:
            await self.raise_for_status(response, path, pcn)
        except BaseException:
            await response.aclose()
            raise
        return response

    def _build(self, path: str, pcn: str, params: QueryParams | None) -> httpx.Request:
        return self.http.build_request("GET", path, params=dict(params or {}), headers=self.headers(pcn))

    async def open_stream(self, path: str, pcn: str, params: QueryParams | None = None) -> httpx.Response:
        """One attempt at opening a streamed GET: limiter -> breaker -> send; the body is left unread.

        The caller must `aclose()` the response. List streams take no concurrency slot on purpose: a consumer may
        call the client again while it iterates a list (jobs -> job operations), which would deadlock with a
        slot held across the iteration at `max_concurrency=1`.

        Raises:
            PlexAPIError: An error status (body parsed).
            httpx.TransportError: Connection problems and timeouts while waiting for the headers.
        """
        request = self._build(path, pcn, params)
        waited = await self._acquire(pcn)
        async with self.breaker:
            return await self._send(request, path, pcn, waited)

    async def read_window(
        self, path: str, pcn: str, params: QueryParams, *, deadline_s: float, max_bytes: int | None
    ) -> bytearray:
        """One attempt at reading a whole history window into memory: slot -> limiter -> breaker -> GET.

        Args:
            path: Endpoint path.
            pcn: PCN.
            params: Query parameters including the window dates.
            deadline_s: Budget for the whole answer (a trickling body counts as slow too).
            max_bytes: When set, stop and raise `WindowTooLargeError` once the body passes this size.

        Returns:
            The raw body (the buffer it was read into: copying a multi-MB window into `bytes` would hold it twice).

        Raises:
            WindowTooLargeError: The body passed `max_bytes`.
            PlexAPIError: An error status.
            httpx.TransportError | TimeoutError: Connection problems, timeouts, the deadline.
        """
        request = self._build(path, pcn, params)
        async with self._slots:
            waited = await self._acquire(pcn)
            too_large = False
            async with self.breaker, asyncio.timeout(deadline_s):
                response = await self._send(request, path, pcn, waited)
                try:
                    buffer = bytearray()
                    async for chunk in response.aiter_bytes():
                        buffer += chunk
                        if max_bytes is not None and len(buffer) > max_bytes:
                            too_large = True
                            break
                finally:
                    await response.aclose()
            if too_large:
                raise WindowTooLargeError(f"window body passed {max_bytes} bytes")
            return buffer
