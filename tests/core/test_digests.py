"""`DigestTable`: the compact external id -> digest map behind `StreamState`'s change detection."""

from __future__ import annotations

import pickle
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.core import _digests
from plex_cognite.core._digests import DigestTable

_IDS = st.sampled_from(["a", "b", "PCN1_JOB_é", "", "PCN1_PART_713f4824", "x" * 70, "ab", "ba"])
_DIGESTS = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=12))
_OPS = st.lists(st.tuples(st.sampled_from(["set", "set", "pop", "clean"]), _IDS, _DIGESTS), max_size=120)


def _check_like_a_dict(ops: list[tuple[str, str, bytes]]) -> None:
    table, model = DigestTable(), dict[str, bytes]()
    changed: set[str] = set()  # what a state store would write on its next commit
    for op, xid, digest in ops:
        if op == "set":
            assert table.set(xid, digest) == (model.get(xid) != digest)
            if model.get(xid) != digest:
                changed.add(xid)
            model[xid] = digest
        elif op == "pop":
            assert table.pop(xid) == (model.pop(xid, None) is not None)
            changed.discard(xid)
        else:
            table.mark_clean()
            changed.clear()
        assert len(table) == len(model)
    assert list(table.items()) == list(model.items())  # insertion order, like a dict
    assert table == model
    expected_changes = [(xid, digest) for xid, digest in model.items() if xid in changed]
    assert list(table.changed()) == expected_changes
    for copied in (table.copy(), pickle.loads(pickle.dumps(table))):
        assert list(copied.changed()) == expected_changes
    loaded = DigestTable.from_distinct(model.items())
    assert list(loaded.items()) == list(model.items())
    assert list(loaded.changed()) == []
    for _, xid, digest in ops:
        assert table.get(xid) == model.get(xid)
        assert table.matches(xid, digest) == (model.get(xid) == digest)
        assert (xid in table) == (xid in model)


@settings(max_examples=300)
@given(_OPS)
def test_behaves_like_a_dict(ops: list[tuple[str, str, bytes]]) -> None:
    _check_like_a_dict(ops)


@settings(max_examples=100)
@given(_OPS)
def test_behaves_like_a_dict_when_every_id_collides(ops: list[tuple[str, str, bytes]]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_digests, "_hash", lambda external_id: 7)  # one probe chain for everything
        patch.setattr(_digests, "_BLOCK", 3)  # `items()` crosses block boundaries
        _check_like_a_dict(ops)


def test_many_removals_shrink_the_buffers_and_keep_the_rest() -> None:
    table = DigestTable((f"id{i}", i.to_bytes(8, "little")) for i in range(5000))
    table.mark_clean()
    for i in range(0, 5000, 3):
        table.set(f"id{i}", b"\xff" * 8)
    for i in range(4000):
        assert table.pop(f"id{i}")
    assert len(table) == 1000
    assert len(table._hashes) < 5000  # rebuilt without the removed entries
    assert dict(table.items()) == {
        f"id{i}": (b"\xff" * 8 if i % 3 == 0 else i.to_bytes(8, "little")) for i in range(4000, 5000)
    }
    assert list(table.changed()) == [(f"id{i}", b"\xff" * 8) for i in range(4000, 5000) if i % 3 == 0]


def test_copy_is_independent() -> None:
    table = DigestTable([("a", b"1" * 8), ("b", b"odd")])
    clone = table.copy()
    clone.set("a", b"2" * 8)
    clone.pop("b")
    clone.set("c", b"3" * 8)
    assert dict(table.items()) == {"a": b"1" * 8, "b": b"odd"}
    assert dict(clone.items()) == {"a": b"2" * 8, "c": b"3" * 8}


def test_pickles_across_hash_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    table = DigestTable((f"PCN1_JOB_{i}", i.to_bytes(8, "big")) for i in range(300))
    table.set("short", b"odd")
    table.pop("PCN1_JOB_7")
    data = pickle.dumps(table)
    # Another process hashes strings differently: the unpickled table must not trust the stored hashes.
    monkeypatch.setattr(_digests, "_hash", lambda external_id: hash(external_id) ^ 0x5A5A5A5A5A)
    clone = pickle.loads(data)
    assert clone.get("PCN1_JOB_299") == (299).to_bytes(8, "big")
    assert clone.get("short") == b"odd"
    assert clone.get("PCN1_JOB_7") is None
    assert list(clone.items()) == list(table.items())


def test_equality() -> None:
    pairs = [("a", b"1" * 8), ("b", b"2" * 8)]
    assert DigestTable(pairs) == DigestTable(reversed(pairs)) == dict(pairs)
    assert DigestTable(pairs) != DigestTable(pairs[:1])
    assert DigestTable(pairs) != {"a": b"1" * 8, "b": b"3" * 8}
    assert DigestTable(pairs) != [1, 2]
    assert repr(DigestTable(pairs)) == "DigestTable(<2 entries>)"


def _bytes_per_entry(build: object) -> float:
    ids = [f"PCN340884_JOB_713f4824-0005-4000-8000-{i:012x}" for i in range(20_000)]
    digests = [i.to_bytes(8, "little") for i in range(20_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build(zip(ids, digests, strict=True))  # type: ignore[operator]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept) == 20_000
    return (after - before) / 20_000


def test_an_entry_costs_about_its_id_plus_30_bytes() -> None:
    # 50-character ids, as Plex's are: a dict holds a str, a bytes and a slot per entry.
    as_dict = _bytes_per_entry(lambda pairs: {xid.encode().decode(): bytes(bytearray(d)) for xid, d in pairs})
    as_table = _bytes_per_entry(DigestTable)
    assert as_dict > 150
    assert as_table < 100
