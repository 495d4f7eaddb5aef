from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings

from plex_cognite.cache._codec import decode_value, encode_value
from plex_cognite.typing import JSONValue

from ._helpers import json_values, same


@settings(max_examples=60)
@given(json_values)
def test_every_json_value_round_trips_with_its_exact_type(value: JSONValue) -> None:
    assert same(decode_value(encode_value(value)), value)


@pytest.mark.parametrize(
    "value",
    [0, 1, True, False, 1.0, -0.0, math.inf, -math.inf, "", "1", "\ud800 lone surrogate", None, [], {}, [1, 1.0, True]],
)
def test_look_alike_values_stay_apart(value: JSONValue) -> None:
    assert same(decode_value(encode_value(value)), value)


def test_nan_round_trips() -> None:
    decoded = decode_value(encode_value(math.nan))
    assert isinstance(decoded, float)
    assert math.isnan(decoded)


def test_ints_and_strings_are_stored_compactly() -> None:
    assert encode_value(123456789) == b"i123456789"
    assert encode_value("PCN1") == b"sPCN1"


@pytest.mark.parametrize("value", [{1, 2}, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), [object()]])
def test_non_json_values_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match="JSON values"):
        encode_value(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [b"", b"x123", b"iabc", b"j{not json"])
def test_foreign_bytes_are_reported(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_value(raw)
