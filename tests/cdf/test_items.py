from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.cdf.items import AssetItem, DatapointsItem, EventItem, RawRowItem, TimeSeriesItem, canonical_hash


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
