"""FakeCDF RAW through the real cognite-sdk: ensureParent, cursors, columns, delete, databases and tables."""

from __future__ import annotations

import pytest
from cognite.client import CogniteClient
from cognite.client.exceptions import CogniteAPIError, CogniteNotFoundError

from plex_cognite.testing.fake_cdf import FakeCDF
from tests.testing._support import api


def test_insert_with_ensure_parent_creates_db_and_table(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.raw.rows.insert("state", "watermarks", {"k1": {"high": 5}, "k2": {"high": 7}}, ensure_parent=True)
    assert fake_cdf.raw_rows("state", "watermarks") == {"k1": {"high": 5}, "k2": {"high": 7}}
    assert fake_cdf.raw_tables() == {"state": ["watermarks"]}
    cognite_client.raw.rows.insert("state", "watermarks", {"k1": {"low": 1}})
    assert fake_cdf.raw_rows("state", "watermarks")["k1"] == {"low": 1}  # a row is replaced, not merged


def test_insert_without_parent_is_not_found(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    with pytest.raises(CogniteNotFoundError):
        cognite_client.raw.rows.insert("nodb", "t", {"k": {"a": 1}}, ensure_parent=False)
    assert fake_cdf.raw_tables() == {}


def test_list_all_rows_through_parallel_cursors(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    rows = {f"key{i:05d}": {"n": i, "even": i % 2 == 0} for i in range(12_345)}
    cognite_client.raw.rows.insert("db", "t", rows, ensure_parent=True)
    listed = cognite_client.raw.rows.list("db", "t", limit=None)
    assert sorted(row.key for row in listed) == sorted(rows)
    assert fake_cdf.request_counts("GET", "/raw/dbs/db/tables/t/cursors") == 1
    keys_only = cognite_client.raw.rows.list("db", "t", limit=3, columns=[])
    assert [row.columns for row in keys_only] == [{}, {}, {}]
    some = cognite_client.raw.rows.list("db", "t", limit=2, columns=["n"])
    assert [row.columns for row in some] == [{"n": 0}, {"n": 1}]


def test_paging_with_limit_and_cursor_on_the_wire(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.raw.rows.insert("db", "t", {f"k{i}": {"i": i} for i in range(5)}, ensure_parent=True)
    first = api(fake_cdf, "GET", "/raw/dbs/db/tables/t/rows", params={"limit": "3"}).json()
    assert [row["key"] for row in first["items"]] == ["k0", "k1", "k2"]
    assert all("lastUpdatedTime" in row for row in first["items"])
    second = api(
        fake_cdf, "GET", "/raw/dbs/db/tables/t/rows", params={"limit": "3", "cursor": first["nextCursor"]}
    ).json()
    assert [row["key"] for row in second["items"]] == ["k3", "k4"]
    assert second["nextCursor"] is None


def test_retrieve_and_delete_rows(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.raw.rows.insert("db", "t", {"a": {"x": 1}, "b": {"x": 2}}, ensure_parent=True)
    assert cognite_client.raw.rows.retrieve("db", "t", "a").columns == {"x": 1}  # type: ignore[union-attr]
    assert cognite_client.raw.rows.retrieve("db", "t", "zz") is None
    cognite_client.raw.rows.delete("db", "t", ["a", "unknown"])
    assert fake_cdf.raw_rows("db", "t") == {"b": {"x": 2}}


def test_databases_and_tables(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.raw.databases.create("db1")
    cognite_client.raw.tables.create("db1", ["t1", "t2"])
    assert [db.name for db in cognite_client.raw.databases.list(limit=None)] == ["db1"]
    assert [t.name for t in cognite_client.raw.tables.list("db1", limit=None)] == ["t1", "t2"]
    with pytest.raises(CogniteAPIError) as caught:
        cognite_client.raw.databases.create("db1")
    assert caught.value.code == 400
    cognite_client.raw.tables.delete("db1", "t2")
    assert fake_cdf.raw_tables() == {"db1": ["t1"]}
    cognite_client.raw.databases.delete("db1", recursive=True)
    assert fake_cdf.raw_tables() == {}


def test_row_limits(fake_cdf: FakeCDF) -> None:
    items = [{"key": f"k{i}", "columns": {}} for i in range(10_001)]
    response = api(fake_cdf, "POST", "/raw/dbs/db/tables/t/rows", {"items": items}, params={"ensureParent": "true"})
    assert response.status_code == 400
    assert fake_cdf.raw_tables() == {}
