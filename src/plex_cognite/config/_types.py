"""Reusable field types and validators for the settings models (see `plex_cognite.config`)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode

__all__ = [
    "Duration",
    "HttpUrlStr",
    "NonNegativeDuration",
    "PcnList",
    "PcnStr",
    "PositiveDuration",
    "StrList",
    "UtcDatetime",
    "parse_duration",
    "split_list",
    "validate_pcn",
    "validate_tenant_id",
]

_PCN = re.compile(r"[0-9]{1,10}")
_DURATION_PART = re.compile(r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|w|d|h|m|s)", re.IGNORECASE)
_DURATION_FULL = re.compile(r"\s*(?:\d+(?:\.\d+)?\s*(?:ms|w|d|h|m|s)\s*)+", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def validate_pcn(value: object) -> str:
    """Check one Plex Customer Number: a string of 1 to 10 ASCII digits, returned unchanged.

    Integers are refused on purpose: YAML reads `pcns: [012345]` as an octal number, which would silently
    become another PCN.
    """
    if not isinstance(value, str):
        raise ValueError(f'a PCN must be a quoted string of digits, e.g. "{value}"; quote it in YAML')
    if not _PCN.fullmatch(value):
        raise ValueError('a PCN is 1 to 10 digits (0-9) with no spaces or signs, e.g. "340884"')
    return value


def validate_tenant_id(value: str) -> str:
    """Check a Plex tenant id (a UUID) and return it in canonical lower-case form."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("a tenant id is a UUID such as 4f3c2a1e-0000-4000-8000-000000000000") from None


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. https://connect.plex.com")
    return value.rstrip("/")


#: An http(s) URL with a host, kept as a string without a trailing slash.
HttpUrlStr = Annotated[str, AfterValidator(_check_http_url)]


def parse_duration(value: object) -> object:
    """Turn `"1d"`, `"6h"`, `"1h30m"`, `"45s"`, `"250ms"` into a timedelta; pass anything else on to pydantic.

    Pydantic itself then accepts ISO 8601 durations (`"P1D"`, `"PT6H"`), numbers of seconds and timedeltas.
    """
    if isinstance(value, str) and _DURATION_FULL.fullmatch(value.strip().removeprefix("-")):
        seconds = sum(
            float(m.group("value")) * _UNIT_SECONDS[m.group("unit").lower()] for m in _DURATION_PART.finditer(value)
        )
        # A negative duration ("-1h") is parsed, so the field's own range check explains what is allowed.
        return timedelta(seconds=-seconds if value.strip().startswith("-") else seconds)
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        return timedelta(seconds=float(value))
    return value


def _check_positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError('must be greater than zero, e.g. "1d", "6h", "30m", "PT6H" or a number of seconds')
    return value


#: A duration: "1d", "6h", "30m", "45s", ISO 8601 ("P1D", "PT6H") or a number of seconds.
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: A duration that must be greater than zero.
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_check_positive)]


def _check_non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError('must be zero (off) or more, e.g. "0", "2d", "6h", "PT6H" or a number of seconds')
    return value


#: A duration that must not be negative (zero allowed).
NonNegativeDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_check_non_negative)]


def _date_to_datetime(value: object) -> object:
    # YAML reads `2025-01-01` as a date; a bare date means midnight UTC.
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=UTC)
    return value


def _to_utc(value: datetime) -> datetime:
    # A naive datetime is taken to be UTC (documented in docs/configuration.md).
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: A datetime normalised to aware UTC; naive values are read as UTC.
UtcDatetime = Annotated[datetime, BeforeValidator(_date_to_datetime), AfterValidator(_to_utc)]


def split_list(value: Any) -> Any:
    # Environment variables give strings: accept a JSON array or a comma-separated list.
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise ValueError('not a valid JSON array; write ["a", "b"] or a,b') from None
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


#: A list of strings that also accepts a JSON array or a comma-separated string (from environment variables).
StrList = Annotated[list[str], NoDecode, BeforeValidator(split_list)]
#: One PCN: 1-10 digits, kept as a string.
PcnStr = Annotated[str, BeforeValidator(validate_pcn)]
#: A list of PCNs that also accepts a JSON array or a comma-separated string.
PcnList = Annotated[list[PcnStr], NoDecode, BeforeValidator(split_list)]
