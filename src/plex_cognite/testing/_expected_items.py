"""The items of a plant's expected CDF content (what a correct extraction must leave there, field by field)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ExpectedAsset", "ExpectedDeadLetter", "ExpectedEvent", "ExpectedTimeSeries"]


@dataclass(frozen=True)
class ExpectedAsset:
    """An asset a full extraction must leave in CDF (only these fields are compared)."""

    external_id: str
    name: str
    parent_external_id: str | None
    description: str | None = None


@dataclass(frozen=True)
class ExpectedEvent:
    """An event a full extraction must leave in CDF (only these fields are compared)."""

    external_id: str
    type: str
    subtype: str | None
    start_time: int | None
    end_time: int | None
    asset_external_ids: frozenset[str]


@dataclass(frozen=True)
class ExpectedTimeSeries:
    """A time series a full extraction must leave in CDF (only these fields are compared)."""

    external_id: str
    asset_external_id: str


@dataclass(frozen=True)
class ExpectedDeadLetter:
    """A raw row a correct extraction must reject, with the reason kind and the row as Plex sent it."""

    stream: str
    reason_kind: str
    payload: Mapping[str, Any]
