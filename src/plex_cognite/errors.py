"""One error tree for plex-cognite, and the classification every retry decision uses.

Hierarchy::

    PlexCogniteError
    ├── ConfigurationError          bad settings; fails fast, names the field
    ├── SourceError                 reading from Plex failed
    │   └── PlexAPIError            an HTTP answer from Plex (status, code, message, request id)
    ├── SinkError                   writing to CDF failed
    │   └── CogniteWriteError       a CDF write that could not be completed
    ├── ValidationError             one record failed validation (becomes a dead letter)
    ├── CircuitOpenError            a circuit breaker refused the call (retry after its retry_in)
    └── StateError                  the state store is unreadable or could not be committed

`classify(exc)` maps any exception the library meets to an `ErrorCategory`:

| category     | examples                                                                 | what callers do  |
|--------------|--------------------------------------------------------------------------|------------------|
| RATE_LIMITED | HTTP 429 (Plex or CDF), a Plex 403 whose message mentions a quota         | wait, retry      |
| RETRYABLE    | HTTP 408/425/500/502/503/504, connection errors, timeouts, protocol errors | back off, retry  |
|              | and an open circuit breaker's `CircuitOpenError` (retry after its retry_in) |                  |
| SKIPPABLE    | `ValidationError` (one bad record)                                       | dead-letter it   |
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
    "SinkError",
    "SourceError",
    "StateError",
    "ValidationError",
    "classify",
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


class ValidationError(PlexCogniteError):
    """One record failed validation or mapping; it becomes a dead letter.

    Attributes:
        reason: Human-readable reason.
        payload: The raw record as received.
    """

    def __init__(self, reason: str, *, payload: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payload = payload


class StateError(PlexCogniteError):
    """The state store could not be read or committed (for example a corrupt state file)."""


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
    # An Apigee-style gateway may answer 403 for a quota breach (plex-api.md 1.6, inferred): treat a 403 that
    # says so as a rate limit, any other 403 as fatal.
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
        case ValidationError():
            return Classification(ErrorCategory.SKIPPABLE)
        case CircuitOpenError():
            return Classification(ErrorCategory.RETRYABLE, exc.retry_in)
        case ConfigurationError() | StateError():
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
    """`TypeName: first line of the message`, for reports and CLI output that promise one line per failure."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
