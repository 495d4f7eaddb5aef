"""One error tree for plex-cognite, and the classification every retry decision uses.

Hierarchy::

    PlexCogniteError
    ├── ConfigurationError          bad settings; fails fast, names the field
    ├── SourceError                 reading from Plex failed
    │   └── PlexAPIError            an HTTP answer from Plex (status, code, message, request id)
    ├── SinkError                   writing to CDF failed
    │   └── CogniteWriteError       a CDF write that could not be completed
    ├── RecordValidationError       one record failed validation (becomes a dead letter)
    ├── UnreachableError            Plex or CDF could not be reached (DNS, refused, timeout, TLS) within a budget
    ├── CircuitOpenError            a circuit breaker refused the call (retry after its retry_in)
    └── StateError                  the state store is unreadable or could not be committed

`classify(exc)` maps any exception the library meets to an `ErrorCategory`:

| category     | examples                                                                 | what callers do  |
|--------------|--------------------------------------------------------------------------|------------------|
| RATE_LIMITED | HTTP 429 (Plex or CDF), a Plex 403 whose message mentions a quota         | wait, retry      |
| RETRYABLE    | HTTP 408/425/500/502/503/504, connection errors, timeouts, protocol errors | back off, retry  |
|              | and an open circuit breaker's `CircuitOpenError` (retry after its retry_in) |                  |
| SKIPPABLE    | `RecordValidationError` (one bad record)                                 | dead-letter it   |
| FATAL        | other 4xx (400, 401, 403, 404, 409, 422), configuration and state errors  | stop, report     |

It understands httpx errors, cognite-sdk 8 exceptions (`CogniteAPIError` and subclasses, `CogniteHTTPStatusError`,
`CogniteConnectionError`, `CogniteReadTimeout`), our own tree, and `TimeoutError`/`ConnectionError` from the stdlib.
Secrets never enter these errors: messages are built from status, code and the server's message only.
"""

from __future__ import annotations

import email.utils
import enum
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "CircuitOpenError",
    "Classification",
    "CogniteWriteError",
    "ConfigurationError",
    "ErrorCategory",
    "PlexAPIError",
    "PlexCogniteError",
    "RecordValidationError",
    "SinkError",
    "SourceError",
    "StateError",
    "UnreachableError",
    "classify",
    "network_failure",
    "one_line",
    "parse_retry_after",
]

#: HTTP statuses that are worth retrying (besides 429, which is its own category).
RETRYABLE_STATUSES = frozenset({408, 425, 500, 502, 503, 504})


class PlexCogniteError(Exception):
    """Root of every error this library raises on purpose."""


class ConfigurationError(PlexCogniteError):
    """Settings are invalid or incomplete.

    Attributes:
        field: Dotted path of the offending setting (`plex.pcns[1]`), when known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SourceError(PlexCogniteError):
    """Reading from a source (Plex) failed."""


class PlexAPIError(SourceError):
    """An error answer from a Plex API.

    Attributes:
        status: HTTP status (0 where the error came inside a 200 body, as the Data Source API does).
        code: Plex error code such as `REQUEST_NOT_AUTHENTICATED`, when the body had one.
        message: The server's message, or a short description.
        request_id: The request id header, when the server sent one.
        retry_after: Seconds the server asked us to wait (Retry-After), when it did.
        errors: The `errors[]` list of the body, if any.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        errors: list[dict[str, Any]] | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        self.errors = errors or []
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [f"Plex API error {self.status}" if self.status else "Plex API error"]
        if self.code:
            parts.append(self.code)
        text = ": ".join(parts) + f": {self.message}"
        if self.path:
            text += f" (path {self.path})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text


class SinkError(PlexCogniteError):
    """Writing to a sink (CDF) failed."""


class CogniteWriteError(SinkError):
    """A CDF write could not be completed.

    Attributes:
        resource: The CDF resource type (`assets`, `events`, ...).
        status: HTTP status of the last failed answer, when there was one.
        external_ids: External ids of the items that were not written.
    """

    def __init__(
        self,
        message: str,
        *,
        resource: str,
        status: int | None = None,
        external_ids: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.resource = resource
        self.status = status
        self.external_ids = external_ids or []


class RecordValidationError(PlexCogniteError):
    """One record failed validation or mapping; it becomes a dead letter.

    Attributes:
        reason: Human-readable reason.
        payload: The raw record as received.
    """

    def __init__(self, reason: str, *, payload: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payload = payload


#: Deprecated name of `RecordValidationError` (it shadowed pydantic's `ValidationError`); kept for old imports.
ValidationError = RecordValidationError


class StateError(PlexCogniteError):
    """The state store could not be read or committed (for example a corrupt state file)."""


class UnreachableError(PlexCogniteError):
    """An upstream could not be reached; the message says which URL, why, and which setting to check.

    Attributes:
        service: `Plex`, `Plex Data Source` or `CDF`.
        url: The URL that was tried.
        reason: `dns`, `refused`, `timeout`, `tls` or `network`.
        setting: The setting that holds the URL (`cdf.base_url`), for the hint.
    """

    def __init__(self, service: str, url: str, reason: str, detail: str, *, setting: str) -> None:
        self.service = service
        self.url = url
        self.reason = reason
        self.setting = setting
        super().__init__(f"{service} at {url} is unreachable: {detail}; {_NETWORK_HINTS[reason].format(setting)}")


#: What to check, per network failure reason (`{}` is the setting holding the URL).
_NETWORK_HINTS = {
    "dns": "the host name does not resolve: check {} for a typo, and DNS on this machine",
    "refused": "nothing accepts connections on that port: check {} (host and port) and that the service is up",
    "timeout": "no answer in time: check {}, firewalls and proxies between here and the host",
    "tls": "the TLS handshake failed: check {} (https vs http) and the certificate trust store",
    "network": "check {} and the network route to the host",
}

_REASON_TEXT = {
    "dns": "DNS lookup failed",
    "refused": "connection refused",
    "timeout": "connection timed out",
    "tls": "TLS handshake failed",
    "network": "network error",
}


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 20:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _reason_of(chain: list[BaseException]) -> str | None:
    import socket
    import ssl

    for error in chain:
        if isinstance(error, socket.gaierror):
            return "dns"
        if isinstance(error, ssl.SSLError):
            return "tls"
        if isinstance(error, ConnectionRefusedError):
            return "refused"
    for error in chain:
        name, text = type(error).__name__, str(error).lower()
        if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            return "dns"
        if "connection refused" in text or "connect call failed" in text:
            return "refused"
        if "ssl" in text or "certificate" in text:
            return "tls"
        if isinstance(error, TimeoutError) or name in ("ConnectTimeout", "PoolTimeout") or "timed out" in text:
            return "timeout"
    for error in chain:
        if type(error).__name__ in ("ConnectError", "CogniteConnectionRefused") or isinstance(error, ConnectionError):
            return "network" if type(error).__name__ != "CogniteConnectionRefused" else "refused"
    return None


def _url_of(chain: list[BaseException]) -> str | None:
    for error in chain:
        if isinstance(error, UnreachableError):
            return error.url
        try:
            request = getattr(error, "request", None)
        except RuntimeError:  # httpx raises when an error carries no request
            request = None
        url = getattr(request, "url", None)
        if url is not None:
            return f"{url.scheme}://{url.netloc.decode() if isinstance(url.netloc, bytes) else url.netloc}"
    return None


def network_failure(error: BaseException) -> tuple[str, str | None] | None:
    """`(reason, url)` when `error` (or its cause) is a failure to reach a host; None for anything else.

    Reasons are `dns`, `refused`, `timeout`, `tls` and `network`; the URL is the scheme and host of the request
    that failed, when the error carries it. Understands httpx's `ConnectError`/`ConnectTimeout`, the cognite-sdk's
    `CogniteConnectionRefused`/`CogniteConnectionError` (through their cause) and the stdlib's socket errors.
    HTTP answers (any status) are never network failures.
    """
    if isinstance(error, UnreachableError):
        return error.reason, error.url
    chain = _chain(error)
    if any(isinstance(e, httpx.HTTPStatusError | PlexAPIError) for e in chain):
        return None
    names = {type(e).__name__ for e in chain}
    transport = names & {
        "ConnectError",
        "ConnectTimeout",
        "CogniteConnectionRefused",
        "CogniteConnectionError",
        "ConnectionRefusedError",
        "gaierror",
        "SSLError",
        "SSLCertVerificationError",
    }
    if not transport:
        return None
    reason = _reason_of(chain)
    return (reason or "network"), _url_of(chain)


class CircuitOpenError(PlexCogniteError):
    """A call was refused because the circuit breaker `name` is open (or its half-open trials are all taken).

    `classify()` treats it as RETRYABLE with `retry_after = retry_in`, so a retry loop around the breaker waits
    for the breaker rather than hammering it. Also importable as `plex_cognite.resilience.CircuitOpenError`.

    Attributes:
        name: The breaker's name (usually the upstream, `"plex"`).
        retry_in: Seconds until the breaker lets a trial call through (0.0 when trials are in flight now).
    """

    def __init__(self, name: str, retry_in: float) -> None:
        self.name = name
        self.retry_in = max(0.0, retry_in)
        super().__init__(
            f"circuit breaker {name!r} is open after repeated upstream failures; "
            f"calls are refused for {self.retry_in:.1f} s more (then one trial call is let through)"
        )

    def __reduce__(self) -> tuple[type[CircuitOpenError], tuple[str, float]]:
        return (type(self), (self.name, self.retry_in))


class ErrorCategory(enum.Enum):
    """What a caller should do about an error."""

    RETRYABLE = "retryable"
    RATE_LIMITED = "rate_limited"
    FATAL = "fatal"
    SKIPPABLE = "skippable"


@dataclass(frozen=True, slots=True)
class Classification:
    """The result of `classify`: a category, plus the server's Retry-After in seconds where it sent one."""

    category: ErrorCategory
    retry_after: float | None = None
    status: int | None = None

    @property
    def retryable(self) -> bool:
        """True for RETRYABLE and RATE_LIMITED."""
        return self.category in (ErrorCategory.RETRYABLE, ErrorCategory.RATE_LIMITED)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a Retry-After header: delay seconds or an HTTP date.

    Returns None for a missing, negative, non-finite or unparsable value, so a garbage header can never make a
    caller wait forever or hot-loop; a date in the past gives 0.0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        current = time.time() if now is None else now
        return max(0.0, moment.timestamp() - current)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _status_category(status: int, message: str = "") -> ErrorCategory:
    if status == 429:
        return ErrorCategory.RATE_LIMITED
    # An Apigee-style gateway may answer 403 for a quota breach (inferred from such gateways; Plex does not document
    # it): treat a 403 that says so as a rate limit, any other 403 as fatal.
    if status == 403 and ("quota" in message.lower() or "rate limit" in message.lower()):
        return ErrorCategory.RATE_LIMITED
    if status in RETRYABLE_STATUSES:
        return ErrorCategory.RETRYABLE
    return ErrorCategory.FATAL


def _classify_httpx_response(response: httpx.Response) -> Classification:
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    category = _status_category(response.status_code, _safe_text(response))
    return Classification(category, retry_after if category is not ErrorCategory.FATAL else None, response.status_code)


def _safe_text(response: httpx.Response) -> str:
    try:
        return response.text[:500]
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return ""


def classify(exc: BaseException) -> Classification:
    """Classify an exception into an `ErrorCategory` (see the module docstring for the table).

    Args:
        exc: Any exception raised while talking to Plex or CDF, or by the library itself.

    Returns:
        The category, with the server's Retry-After (seconds) for rate-limited errors when it sent one.
    """
    # Imported here so that importing plex_cognite.errors stays cheap.
    from cognite.client import exceptions as cex

    match exc:
        case RecordValidationError():
            return Classification(ErrorCategory.SKIPPABLE)
        case CircuitOpenError():
            return Classification(ErrorCategory.RETRYABLE, exc.retry_in)
        case ConfigurationError() | StateError() | UnreachableError():
            return Classification(ErrorCategory.FATAL)
        case PlexAPIError():
            if exc.status == 0:
                return Classification(ErrorCategory.FATAL)
            category = _status_category(exc.status, exc.message)
            return Classification(
                category, exc.retry_after if category is not ErrorCategory.FATAL else None, exc.status
            )
        case CogniteWriteError() if exc.status is not None:
            return Classification(_status_category(exc.status), None, exc.status)
        case httpx.HTTPStatusError():
            return _classify_httpx_response(exc.response)
        case httpx.TimeoutException() | httpx.NetworkError() | httpx.RemoteProtocolError():
            return Classification(ErrorCategory.RETRYABLE)
        case cex.CogniteProjectAccessError():
            # The SDK's form of a 401 on a project URL; it carries no status code of its own.
            return Classification(ErrorCategory.FATAL, None, 401)
        case cex.CogniteAPIError():
            return Classification(_status_category(exc.code, exc.message), None, exc.code)
        case cex.CogniteHTTPStatusError():
            return Classification(_status_category(exc.status_code), None, exc.status_code)
        case cex.CogniteConnectionError() | cex.CogniteReadTimeout():
            return Classification(ErrorCategory.RETRYABLE)
        case TimeoutError() | ConnectionError():
            return Classification(ErrorCategory.RETRYABLE)
        case _:
            return Classification(ErrorCategory.FATAL)


def one_line(error: BaseException) -> str:
    """One short line for reports and CLI output that promise one line per failure.

    Network failures say what was unreachable and why (`CDF at https://... is unreachable: connection refused;
    check ...`); a Plex error answer is its status, code, path and what to check, without the server's nesting;
    anything else is `TypeName: first line of the message`. The full text stays in `str(error)` (the CLI shows it
    with `--verbose`).
    """
    if isinstance(error, PlexAPIError):
        return _plex_line(error)
    if isinstance(error, UnreachableError):
        return str(error)
    failure = network_failure(error)
    if failure is not None:
        reason, url = failure
        cdf = type(error).__module__.startswith("cognite.")
        target = ("CDF" if cdf else "the server") + (f" at {url}" if url else "")
        setting = "cdf.base_url" if cdf else "the base_url setting for that host"
        return f"{target} is unreachable: {_REASON_TEXT[reason]}; {_NETWORK_HINTS[reason].format(setting)}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


_PLEX_CHECKS = {
    401: "the API key was rejected (expired, or not entitled to this PCN); "
    "check plex.api_key, plex.pcns and plex.tenant_ids",
    403: "this app is not allowed this resource for the PCN, or a usage quota was hit",
    404: "no such resource or id, or the app is not subscribed to this API product",
}


def _plex_line(error: PlexAPIError) -> str:
    head = f"Plex {error.status}" if error.status else "Plex error"
    if error.code:
        head += f" {error.code}"
    if error.path:
        head += f" on {error.path}"
    check = _PLEX_CHECKS.get(error.status)
    if check is None:
        # The server's message without our appended hint or nested detail: its first sentence or clause.
        check = error.message.split(" (", 1)[0].strip() or "no message"
    return f"{head}: {check}"
