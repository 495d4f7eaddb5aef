"""ISO 8601 text for the aware UTC datetimes kept in state, ledgers and metadata (`2025-01-02T03:04:05Z`)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_utc", "parse_utc"]


def format_utc(moment: datetime) -> str:
    """`moment` in UTC as ISO 8601 with a `Z` suffix."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """Parse ISO 8601 text with a zone (`Z` or an offset) into an aware UTC datetime.

    Raises:
        ValueError: The text is not ISO 8601, or has no timezone.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {text!r}")
    return moment.astimezone(UTC)
