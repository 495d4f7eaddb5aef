from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.plex._jsonarray import ArrayDecodeError, ArrayDecoder

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _decode(body: bytes, cuts: list[int]) -> list[Any]:
    decoder = ArrayDecoder()
    out: list[Any] = []
    previous = 0
    for cut in sorted({min(c, len(body)) for c in cuts}):
        out.extend(decoder.feed(body[previous:cut]))
        previous = cut
    out.extend(decoder.feed(body[previous:]))
    out.extend(decoder.close())
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(json_values, max_size=12),
    st.lists(st.integers(0, 3000), max_size=15),
    st.sampled_from([None, 0, 2]),
    st.booleans(),
)
def test_decodes_exactly_what_json_loads_decodes_under_any_chunking(
    values: list[Any], cuts: list[int], indent: int | None, ascii_only: bool
) -> None:
    body = json.dumps(values, indent=indent, ensure_ascii=ascii_only).encode()
    assert _decode(body, cuts) == json.loads(body)


@settings(max_examples=40, deadline=None)
@given(st.lists(json_values, min_size=1, max_size=6))
def test_one_byte_chunks(values: list[Any]) -> None:
    body = json.dumps(values, ensure_ascii=False).encode()
    assert _decode(body, list(range(len(body)))) == values


@settings(max_examples=100, deadline=None)
@given(st.lists(json_values, min_size=1, max_size=8), st.data())
def test_any_truncation_is_detected(values: list[Any], data: st.DataObject) -> None:
    body = json.dumps(values).encode()
    cut = data.draw(st.integers(0, len(body) - 1))
    with pytest.raises(ArrayDecodeError):
        _decode(body[:cut], [cut // 2])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[]", []),
        (b" [ ] \n", []),
        (b"\xef\xbb\xbf[1]", [1]),
        (b"[12,345]", [12, 345]),
        (b"[true,false,null]", [True, False, None]),
    ],
)
def test_small_bodies(body: bytes, expected: list[Any]) -> None:
    assert _decode(body, list(range(len(body)))) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1}', "expected a JSON array"),
        (b"", "empty body"),
        (b"[1 2]", "expected ',' or ']'"),
        (b"[1,]", "malformed element"),
        (b"[1] x", "after the closing"),
        (b'[{"a": tru}, {"b": 2}, {"c": 3}, {"d": 4}]', "malformed element"),
        (b"[\xff]", "not UTF-8"),
    ],
)
def test_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(ArrayDecodeError, match=message):
        _decode(body, [])


def test_malformed_element_is_reported_before_the_end_of_a_long_body() -> None:
    decoder = ArrayDecoder()
    with pytest.raises(ArrayDecodeError, match="malformed element"):
        decoder.feed(b'[{"a": 1}, {"a": nope}, ' + b'{"b": 2}, ' * 100)


def test_a_huge_element_split_in_many_chunks_is_decoded_once() -> None:
    big = {"text": "x" * 200_000}
    body = json.dumps([big, 1]).encode()
    decoder = ArrayDecoder()
    out: list[Any] = []
    for start in range(0, len(body), 1000):
        out.extend(decoder.feed(body[start : start + 1000]))
    out.extend(decoder.close())
    assert out == [big, 1]
