"""What sinks write: one frozen dataclass per CDF resource, with asset references by external id.

Items are built by pure transforms (Plex record -> item). They reference assets by **external id**; the sinks turn
those into the numeric ids CDF requires (`assetIds`, `assetId`) through the `AssetIDResolver`.

Every item has `content_hash()`: an 8-byte blake2b digest over a canonical JSON of the fields that are written. It is
stable across processes and Python versions (no `hash()` randomisation), so the state store can keep it per external
id and a re-run over unchanged data can skip the write altogether.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import orjson

from plex_cognite.cdf._datapoints import PointArray
from plex_cognite.typing import ExternalId, JSONValue

__all__ = [
    "AssetItem",
    "DatapointsItem",
    "EventItem",
    "PointArray",
    "RawRowItem",
    "TimeSeriesItem",
    "canonical_hash",
]

_DIGEST_SIZE = 8


def _json_default(value: object) -> JSONValue:
    # Mapping proxies, tuples inside metadata and the like: render them as their plain JSON counterparts.
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serialisable: {value!r}")


def canonical_hash(payload: JSONValue | Mapping[str, object]) -> bytes:
    """Return an 8-byte blake2b digest of a canonical JSON rendering of `payload`.

    Keys are sorted, separators are fixed and non-ASCII is kept verbatim, so equal payloads give equal digests in any
    process. Non-finite floats are rendered as strings (`"NaN"`, `"Infinity"`), as the cognite-sdk sends them.

    Args:
        payload: Any JSON-like value (mappings, sequences, str, int, float, bool, None).

    Returns:
        The 8-byte digest.
    """
    return hashlib.blake2b(_canonical_json(payload), digest_size=_DIGEST_SIZE).digest()


# The JSON that digests are taken of is the stdlib's `json.dumps(sort_keys=True, separators=(",", ":"),
# ensure_ascii=False)`, encoded as UTF-8: digests kept in state stores by earlier releases must stay valid. orjson
# writes exactly those bytes for plain str, int (64-bit), bool, None, dict and list values (strings escaped alike,
# keys sorted by code point as UTF-8 preserves), about 10x faster (half a hash's time, with the check). It writes
# floats differently (`1e-05` as `0.00001`, NaN as `null`), so a payload holding anything else (a float, a
# subclass, a mapping proxy) takes the stdlib path. So does one orjson refuses (an int beyond 64 bits, a non-str
# key, deep nesting).
_SORTED = orjson.OPT_SORT_KEYS


def _canonical_json(payload: object) -> bytes:
    if _plain_json(payload):
        try:
            return orjson.dumps(payload, option=_SORTED)
        except orjson.JSONEncodeError:
            pass
    try:
        # With no copy of the payload: `allow_nan=False` raises on the rare non-finite float.
        text = json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default, allow_nan=False
        )
    except ValueError:
        text = json.dumps(
            _finite(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
        )
    return text.encode("utf-8")


_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})
_PLAIN_CONTAINERS = frozenset({dict, list, tuple})
_PLAIN = _PLAIN_SCALARS | _PLAIN_CONTAINERS


def _plain_json(value: object) -> bool:
    """Whether `value` holds only exact str, int, bool, None, dict and list (or tuple) values: no float, no subclass."""
    kind = type(value)
    if kind is dict:
        values: Any = value.values()  # type: ignore[attr-defined]
    elif kind is list or kind is tuple:
        values = value
    else:
        return kind in _PLAIN_SCALARS
    kinds = set(map(type, values))  # one C-level pass over the values: most containers hold scalars only
    if kinds <= _PLAIN_SCALARS:
        return True
    if not kinds <= _PLAIN:
        return False
    for item in values:  # noqa: SIM110 (a loop: about 10% faster than all() over a generator)
        if type(item) in _PLAIN_CONTAINERS and not _plain_json(item):
            return False
    return True


def _plain(value: object) -> JSONValue:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list, PointArray)):
        return [_plain(v) for v in value]
    return value  # type: ignore[return-value]


class _JsonRoundTrip:
    """`to_json` / `from_json` for the item dataclasses: their fields by name, sequences as lists.

    `from_json` turns lists back into tuples where the field holds a sequence (asset links, datapoint pairs), so
    `from_json(to_json(item)) == item` for every item.
    """

    __slots__ = ()

    def to_json(self) -> JSONValue:
        """The item's fields as a JSON object (see `from_json`)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_json(cls, data: JSONValue) -> Self:
        """Rebuild an item from `to_json()` output.

        Raises:
            ValueError: When `data` is not an object of this item's fields.
        """
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        if not isinstance(data, dict) or not set(data) <= names:
            raise ValueError(f"not a serialised {cls.__name__}: {data!r:.200}")
        fields: dict[str, Any] = dict(data)
        for name in _TUPLE_FIELDS.intersection(fields):
            value = fields[name]
            fields[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value or ())
        try:
            return cls(**fields)
        except TypeError as exc:
            raise ValueError(f"not a serialised {cls.__name__}: {exc}") from exc


_TUPLE_FIELDS = frozenset({"asset_external_ids", "datapoints"})


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class AssetItem(_JsonRoundTrip):
    """An asset to create or update, its parent named by external id.

    Attributes:
        external_id: The asset's external id (unique per project).
        name: Display name (CDF requires a non-empty name).
        parent_external_id: The parent's external id; None for a root asset.
        description: Free text.
        metadata: String key-value pairs.
        source: The source system.
        data_set_id: Numeric data set id; None falls back to the sink's default.
    """

    external_id: ExternalId
    name: str
    parent_external_id: ExternalId | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    source: str | None = "plex"
    data_set_id: int | None = None

    @property
    def key(self) -> str:
        """The item's identity in CDF: its external id."""
        return self.external_id

    def content_hash(self) -> bytes:
        """Return the 8-byte digest of the written fields (see `canonical_hash`)."""
        return canonical_hash(
            {
                "kind": "asset",
                "externalId": self.external_id,
                "name": self.name,
                "parentExternalId": self.parent_external_id,
                "description": self.description,
                "metadata": dict(self.metadata),
                "source": self.source,
                "dataSetId": self.data_set_id,
            }
        )


@dataclass(frozen=True, slots=True)
class EventItem(_JsonRoundTrip):
    """An event to create or update, linked to assets by their external ids.

    Attributes:
        external_id: The event's external id.
        type: Event type (`job`, `workcenter_status`).
        subtype: Event subtype (job status, status name).
        start_time: Start, epoch milliseconds UTC.
        end_time: End, epoch milliseconds UTC; None for an open event.
        description: Free text.
        metadata: String key-value pairs.
        source: The source system.
        asset_external_ids: External ids of the assets to link; the sink resolves them to numeric `assetIds`.
        data_set_id: Numeric data set id; None falls back to the sink's default.
    """

    external_id: ExternalId
    type: str | None = None
    subtype: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    source: str | None = "plex"
    asset_external_ids: Sequence[ExternalId] = ()
    data_set_id: int | None = None

    @property
    def key(self) -> str:
        """The item's identity in CDF: its external id."""
        return self.external_id

    def content_hash(self) -> bytes:
        """Return the 8-byte digest of the written fields (see `canonical_hash`)."""
        return canonical_hash(
            {
                "kind": "event",
                "externalId": self.external_id,
                "type": self.type,
                "subtype": self.subtype,
                "startTime": self.start_time,
                "endTime": self.end_time,
                "description": self.description,
                "metadata": dict(self.metadata),
                "source": self.source,
                "assetExternalIds": list(self.asset_external_ids),
                "dataSetId": self.data_set_id,
            }
        )


@dataclass(frozen=True, slots=True)
class TimeSeriesItem(_JsonRoundTrip):
    """A (numeric, classic) time series to create or update, linked to one asset by external id.

    CDF time series have no `source` field.

    Attributes:
        external_id: The series' external id.
        name: Display name.
        asset_external_id: External id of the asset to link; the sink resolves it to the numeric `assetId`.
        unit: Unit text (`pcs`, `kg`).
        description: Free text.
        metadata: String key-value pairs.
        is_step: Step (True) or linear (False) interpolation.
        data_set_id: Numeric data set id; None falls back to the sink's default.
    """

    external_id: ExternalId
    name: str
    asset_external_id: ExternalId | None = None
    unit: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    is_step: bool = False
    data_set_id: int | None = None

    @property
    def key(self) -> str:
        """The item's identity in CDF: its external id."""
        return self.external_id

    def content_hash(self) -> bytes:
        """Return the 8-byte digest of the written fields (see `canonical_hash`)."""
        return canonical_hash(
            {
                "kind": "timeseries",
                "externalId": self.external_id,
                "name": self.name,
                "assetExternalId": self.asset_external_id,
                "unit": self.unit,
                "description": self.description,
                "metadata": dict(self.metadata),
                "isStep": self.is_step,
                "dataSetId": self.data_set_id,
            }
        )


@dataclass(frozen=True, slots=True)
class DatapointsItem(_JsonRoundTrip):
    """Datapoints for one numeric time series, addressed by external id.

    Attributes:
        external_id: The time series' external id.
        datapoints: `(timestamp epoch ms, value)` pairs, in any order; points sharing a millisecond are summed by
            the sink. A `PointArray` holds many points in a fraction of the memory of a list of tuples (the
            production and scrap extractors build them), and a clean one is sent without a copy.
    """

    external_id: ExternalId
    datapoints: Sequence[tuple[int, float]]

    @property
    def key(self) -> str:
        """The item's identity in CDF: its external id."""
        return self.external_id

    def content_hash(self) -> bytes:
        """Return the 8-byte digest of the series id and its points (see `canonical_hash`)."""
        return canonical_hash(
            {"kind": "datapoints", "externalId": self.external_id, "datapoints": [list(p) for p in self.datapoints]}
        )


@dataclass(frozen=True, slots=True)
class RawRowItem(_JsonRoundTrip):
    """One CDF RAW row; the database and table are the sink's.

    Attributes:
        key: The row key (unique per table; a later write replaces the row).
        columns: JSON columns.
    """

    key: str
    columns: Mapping[str, JSONValue]

    def content_hash(self) -> bytes:
        """Return the 8-byte digest of key and columns (see `canonical_hash`)."""
        return canonical_hash({"kind": "raw", "key": self.key, "columns": dict(self.columns)})
