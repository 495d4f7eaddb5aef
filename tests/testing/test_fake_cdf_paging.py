"""Properties of FakeCDF's cursor paging (store level, no HTTP): every match exactly once, in id order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.testing._cdf_store import CDFStore


def _store(types: list[str], deleted: set[int]) -> CDFStore:
    store = CDFStore(seed=1)
    if types:
        store.create("events", {"items": [{"externalId": f"e{i}", "type": t} for i, t in enumerate(types)]})
    doomed = [{"externalId": f"e{i}"} for i in sorted(deleted) if i < len(types)]
    if doomed:
        store.delete("events", {"items": doomed})
    return store


@settings(max_examples=40, deadline=None)
@given(
    types=st.lists(st.sampled_from(["a", "b", "c"]), max_size=60),
    deleted=st.sets(st.integers(0, 59), max_size=10),
    limit=st.integers(1, 7),
    wanted=st.sampled_from([None, "a", "b"]),
)
def test_cursor_pages_cover_each_match_once(
    types: list[str], deleted: set[int], limit: int, wanted: str | None
) -> None:
    store = _store(types, deleted)
    body: dict[str, object] = {"limit": limit, "filter": {"type": wanted} if wanted else {}}
    seen: list[int] = []
    cursor: str | None = None
    while True:
        page, cursor = store.list_page("events", {**body, "cursor": cursor})
        assert len(page) <= limit
        seen.extend(item["id"] for item in page)
        if cursor is None:
            break
    expected = [r["id"] for r in store.tables["events"].by_id.values() if wanted is None or r["type"] == wanted]
    assert seen == sorted(expected)


@settings(max_examples=30, deadline=None)
@given(count=st.integers(0, 40), partitions=st.integers(1, 6), limit=st.integers(1, 9))
def test_partitions_split_without_overlap(count: int, partitions: int, limit: int) -> None:
    store = _store(["a"] * count, set())
    seen: list[int] = []
    for index in range(1, partitions + 1):
        cursor: str | None = None
        partition = f"{index}/{partitions}"
        while True:
            page, cursor = store.list_page("events", {"limit": limit, "partition": partition, "cursor": cursor})
            seen.extend(item["id"] for item in page)
            if cursor is None:
                break
    assert sorted(seen) == sorted(store.tables["events"].by_id)
    assert len(seen) == len(set(seen))
