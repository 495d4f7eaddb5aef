from __future__ import annotations

import hashlib
import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.cdf.items import (
    AssetItem,
    DatapointsItem,
    EventItem,
    RawRowItem,
    TimeSeriesItem,
    _canonical_json,
    canonical_hash,
)


def test_content_hash_is_eight_bytes_and_stable_across_processes() -> None:
    item = EventItem("PCN1_JOB_1", type="job", metadata={"b": "2", "a": "1"}, asset_external_ids=("PCN1_PART_1",))
    assert len(item.content_hash()) == 8
    # A golden value: any process, any PYTHONHASHSEED, any run must give exactly this (state stores keep it).
    assert item.content_hash().hex() == "b7dca0710cadae46"


def test_content_hash_changes_with_any_written_field() -> None:
    base = AssetItem("A", "name", parent_external_id="P", description="d", metadata={"k": "v"})
    variants = [
        AssetItem("B", "name", parent_external_id="P", description="d", metadata={"k": "v"}),
        AssetItem("A", "other", parent_external_id="P", description="d", metadata={"k": "v"}),
        AssetItem("A", "name", parent_external_id="Q", description="d", metadata={"k": "v"}),
        AssetItem("A", "name", parent_external_id="P", description=None, metadata={"k": "v"}),
        AssetItem("A", "name", parent_external_id="P", description="d", metadata={"k": "w"}),
        AssetItem("A", "name", parent_external_id="P", description="d", metadata={"k": "v"}, data_set_id=1),
    ]
    assert len({v.content_hash() for v in variants} | {base.content_hash()}) == len(variants) + 1


def test_kinds_do_not_collide() -> None:
    assert TimeSeriesItem("X", "X").content_hash() != AssetItem("X", "X").content_hash()


def test_datapoints_and_raw_hashes() -> None:
    assert DatapointsItem("ts", [(1, 1.0)]).content_hash() == DatapointsItem("ts", ((1, 1.0),)).content_hash()
    assert DatapointsItem("ts", [(1, float("nan"))]).content_hash()  # non-finite values hash without error
    assert RawRowItem("k", {"a": 1}).content_hash() != RawRowItem("k", {"a": 2}).content_hash()


@settings(max_examples=50)
@given(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=5))
def test_metadata_order_does_not_matter(metadata: dict[str, str]) -> None:
    reordered = dict(reversed(list(metadata.items())))
    assert canonical_hash(metadata) == canonical_hash(reordered)


def _stdlib_canonical(payload: object) -> bytes:
    # What every earlier release hashed: digests kept in state stores depend on exactly these bytes.
    def finite(value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [finite(v) for v in value]
        return value

    text = json.dumps(finite(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits too: orjson refuses those
    | st.floats()  # NaN, infinities, 1e-05, -0.0: orjson writes them differently
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)))  # any code point but lone surrogates
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400)
@given(_JSON)
def test_canonical_json_is_byte_for_byte_the_stdlib_rendering(payload: object) -> None:
    # The fast path (orjson) must hash exactly what the stdlib path always did, or digests kept by earlier releases
    # would read as changes and an upgrade would rewrite unchanged items.
    assert _canonical_json(payload) == _stdlib_canonical(payload)
    assert canonical_hash(payload) == hashlib.blake2b(_stdlib_canonical(payload), digest_size=8).digest()  # type: ignore[arg-type]


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return {"deep": value}


def test_canonical_json_renders_what_orjson_writes_differently_as_the_stdlib_does() -> None:
    cases: list[object] = [
        {"value": 1e-05},  # orjson: 0.00001
        {"value": -5.1117210976609e-09},  # orjson: e-9
        [float("nan"), float("inf")],  # orjson: null
        {"big": 2**64},  # orjson refuses
        _nested(300),  # orjson refuses past 254 levels
    ]
    for payload in cases:
        assert _canonical_json(payload) == _stdlib_canonical(payload)
