"""Errors raised inside FakeCDF's store, and the JSON envelope CDF wraps them in."""

from __future__ import annotations

from collections.abc import Sequence

from plex_cognite.typing import JSONValue

Identifier = dict[str, JSONValue]
"""An item identifier as CDF writes it in `missing` / `duplicated`: `{"id": 1}`, `{"externalId": "x"}`, ..."""


class CDFError(Exception):
    """A request that CDF would refuse; nothing of the request is applied.

    Args:
        status: HTTP status (400, 404, 409, 422 ...).
        message: the `error.message` text.
        missing: identifiers of unknown referenced objects (`error.missing`).
        duplicated: identifiers that collide (`error.duplicated`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        missing: Sequence[Identifier] | None = None,
        duplicated: Sequence[Identifier] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.missing = list(missing) if missing else None
        self.duplicated = list(duplicated) if duplicated else None

    def payload(self) -> dict[str, JSONValue]:
        """The response body: `{"error": {"code", "message", "missing"?, "duplicated"?}}`."""
        return error_payload(self.status, self.message, missing=self.missing, duplicated=self.duplicated)


def error_payload(
    status: int,
    message: str,
    *,
    missing: Sequence[Identifier] | None = None,
    duplicated: Sequence[Identifier] | None = None,
) -> dict[str, JSONValue]:
    """Build CDF's error envelope."""
    error: dict[str, JSONValue] = {"code": status, "message": message}
    if missing:
        error["missing"] = list(missing)
    if duplicated:
        error["duplicated"] = list(duplicated)
    return {"error": error}


def bad_request(message: str) -> CDFError:
    """A plain 400 validation error."""
    return CDFError(400, message)


def unique_identifiers(identifiers: Sequence[Identifier]) -> list[Identifier]:
    """De-duplicate identifiers, keeping their first-seen order."""
    seen: set[tuple[str, str]] = set()
    out: list[Identifier] = []
    for identifier in identifiers:
        key = next(iter(identifier.items()))
        marker = (key[0], repr(key[1]))
        if marker not in seen:
            seen.add(marker)
            out.append(identifier)
    return out
