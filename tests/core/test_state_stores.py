"""The RAW and Redis state stores against real servers (FakeCDF over HTTP, a real redis-server)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cognite.client import AsyncCogniteClient

from plex_cognite.core.state import LocalStateStore, MemoryStateStore, RawStateStore, RedisStateStore, StreamState
from plex_cognite.errors import StateError
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.typing import JSONValue, StateStore

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 1, 2, tzinfo=UTC)


def big_state(n: int) -> StreamState:
    state = StreamState(watermark=T1)
    state.windows.add(T0, T1)
    for i in range(n):
        state.set_hash(f"PCN1_PART_{i}", i.to_bytes(8, "big"))
    return state


async def test_raw_store_round_trip_and_writes_only_changed_buckets(
    fake_cdf: FakeCDF, async_cognite_client: AsyncCogniteClient
) -> None:
    store = RawStateStore(async_cognite_client, "plex_cognite", "state")
    state = big_state(2000)
    await store.commit("1", "parts", state)
    loaded = await store.load("1", "parts")
    assert loaded.hash_count == 2000
    assert loaded.hash_of("PCN1_PART_1999") == (1999).to_bytes(8, "big")
    assert list(loaded.windows) == [(T0, T1)]
    assert loaded.watermark == T1
    rows = fake_cdf.raw_rows("plex_cognite", "state")
    assert "1:parts" in rows
    assert len(rows) > 100

    fake_cdf.reset_request_log()
    loaded.set_hash("PCN1_PART_5", b"\xff" * 8)
    await store.commit("1", "parts", loaded)
    posted = [r for r in fake_cdf.request_log if r.method == "POST"]
    assert len(posted) == 1
    assert posted[0].items == 2
    assert (await store.load("1", "parts")).hash_of("PCN1_PART_5") == b"\xff" * 8
    assert (await store.load("1", "jobs")).hash_count == 0


async def test_raw_store_without_table_is_empty(async_cognite_client: AsyncCogniteClient) -> None:
    assert (await RawStateStore(async_cognite_client, "nope", "none").load("1", "x")).hash_count == 0


async def test_raw_store_corrupt_row_is_a_state_error(
    fake_cdf: FakeCDF, async_cognite_client: AsyncCogniteClient
) -> None:
    from cognite.client.data_classes import RowWrite

    await async_cognite_client.raw.rows.insert(
        "db", "t", [RowWrite("1:parts", {"windows": "garbage"})], ensure_parent=True
    )
    with pytest.raises(StateError, match="corrupt"):
        await RawStateStore(async_cognite_client, "db", "t").load("1", "parts")


@pytest.mark.redis
async def test_redis_store_round_trip_and_incremental_hashes(redis_url: str) -> None:
    import redis.asyncio as aioredis

    store = RedisStateStore(redis_url, prefix="t")
    state = big_state(500)
    await store.commit("1", "parts", state)
    loaded = await store.load("1", "parts")
    assert loaded.hash_count == 500
    assert loaded.watermark == T1
    loaded.forget_hash("PCN1_PART_0")
    loaded.set_hash("PCN1_PART_1", b"\x00" * 8)
    await store.commit("1", "parts", loaded)
    again = await store.load("1", "parts")
    assert again.hash_count == 499
    assert again.hash_of("PCN1_PART_1") == b"\x00" * 8
    await store.close()

    client = aioredis.Redis.from_url(redis_url)
    await client.set("t:state:1:jobs", b"{not json")
    with pytest.raises(StateError, match="corrupt"):
        await RedisStateStore(client, prefix="t").load("1", "jobs")
    await client.aclose()


@pytest.mark.redis
async def test_every_store_keeps_an_extractors_extra_state(
    tmp_path: Path, async_cognite_client: AsyncCogniteClient, redis_url: str
) -> None:
    stores: list[StateStore] = [
        LocalStateStore(tmp_path / "state.json"),
        RawStateStore(async_cognite_client, "plex_cognite", "state"),
        RedisStateStore(redis_url, prefix="extra"),
        MemoryStateStore(),
    ]
    extra: dict[str, JSONValue] = {"on_hand": {"P-1": 12.5, "P-2": 0.0}, "keys": ["PCN1_A", "PCN1_B"]}
    for store in stores:
        state = big_state(3)
        state.extra.update(extra)
        await store.commit("1", "inventory", state)
        loaded = await store.load("1", "inventory")
        assert loaded.extra == extra, type(store).__name__
        assert loaded.hash_count == 3
        loaded.extra.clear()
        await store.commit("1", "inventory", loaded)
        assert (await store.load("1", "inventory")).extra == {}, type(store).__name__
        await store.close()
