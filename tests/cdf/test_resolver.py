from __future__ import annotations

import asyncio
import math
import random

from cognite.client import AsyncCogniteClient, CogniteClient
from cognite.client.data_classes import AssetWrite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plex_cognite.cache import MemoryCache
from plex_cognite.cdf import AssetIDResolver, EventAssetLinker, get_resolver
from plex_cognite.testing.fake_cdf import FakeCDF


def byids_requests(fake: FakeCDF) -> int:
    return fake.request_counts(method="POST", path="/assets/byids")


def make_assets(client: CogniteClient, n: int, prefix: str = "A") -> dict[str, int]:
    created = client.assets.create([AssetWrite(external_id=f"{prefix}{i}", name=f"{prefix}{i}") for i in range(n)])
    return {a.external_id: a.id for a in created if a.external_id is not None}


def test_seed_usage_verbatim_with_a_sync_client(fake_cdf: FakeCDF, client: CogniteClient) -> None:
    asset = client.assets.create(AssetWrite(external_id="PCN340884_PART_123", name="part 123"))

    resolver = get_resolver(client)
    linker = EventAssetLinker(resolver)
    asset_ids = linker.prepare_event_asset_ids(["PCN340884_PART_123"])

    assert asset_ids == [asset.id]
    assert get_resolver(client) is resolver


async def test_seed_usage_is_awaitable_with_an_async_client(
    fake_cdf: FakeCDF, client: CogniteClient, aclient: AsyncCogniteClient
) -> None:
    asset = client.assets.create(AssetWrite(external_id="PCN340884_PART_123", name="part 123"))

    resolver = get_resolver(aclient)
    linker = EventAssetLinker(resolver)
    asset_ids = await linker.prepare_event_asset_ids(["PCN340884_PART_123"])

    assert asset_ids == [asset.id]


async def test_sync_facade_works_inside_a_running_loop(fake_cdf: FakeCDF, client: CogniteClient) -> None:
    # Jupyter: the calling thread already runs a loop; the plain call must still work.
    ids = make_assets(client, 3)
    assert AssetIDResolver(client).resolve(["A0", "A2", "nope"]) == {"A0": ids["A0"], "A2": ids["A2"]}


async def test_10k_ids_from_50_tasks_cost_at_most_10_requests_and_then_none(
    fake_cdf: FakeCDF, client: CogniteClient, aclient: AsyncCogniteClient
) -> None:
    ids = make_assets(client, 10_000)
    xids = list(ids)
    fake_cdf.reset_request_log()
    resolver = AssetIDResolver(aclient, max_concurrency=4)
    rnd = random.Random(7)

    async def task(n: int) -> dict[str, int]:
        wanted = rnd.sample(xids, 2_000) + xids[n * 200 : (n + 1) * 200]
        return await resolver.resolve_async(wanted)

    results = await asyncio.gather(*(task(n) for n in range(50)))

    assert all(all(ids[x] == v for x, v in r.items()) for r in results)
    assert set().union(*results) == set(xids)
    assert byids_requests(fake_cdf) <= 10
    before = byids_requests(fake_cdf)
    assert await resolver.resolve_async(xids) == ids
    assert byids_requests(fake_cdf) == before


async def test_unknown_ids_are_negatively_cached_until_the_ttl_ends(
    fake_cdf: FakeCDF, client: CogniteClient, aclient: AsyncCogniteClient
) -> None:
    resolver = AssetIDResolver(aclient, negative_ttl_s=60)
    assert await resolver.resolve_async(["late"]) == {}
    asset = client.assets.create(AssetWrite(external_id="late", name="late"))
    fake_cdf.reset_request_log()
    assert await resolver.resolve_async(["late"]) == {}
    assert byids_requests(fake_cdf) == 0
    resolver.invalidate(["late"])
    assert await resolver.resolve_async(["late"]) == {"late": asset.id}

    short = AssetIDResolver(aclient, negative_ttl_s=0)
    assert await short.resolve_async(["later"]) == {}
    other = client.assets.create(AssetWrite(external_id="later", name="later"))
    assert await short.resolve_async(["later"]) == {"later": other.id}


async def test_prime_avoids_lookups_and_reverse_lookup_works(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    resolver = AssetIDResolver(aclient)
    assert resolver.prime({"x": 1, "y": 2}) == 2
    assert await resolver.resolve_async(["x", "y"]) == {"x": 1, "y": 2}
    assert await resolver.external_ids_async([2]) == {2: "y"}
    assert byids_requests(fake_cdf) == 0


async def test_hierarchy_helpers(fake_cdf: FakeCDF, client: CogniteClient, aclient: AsyncCogniteClient) -> None:
    client.assets.create(
        [
            AssetWrite(external_id="root", name="r"),
            AssetWrite(external_id="mid", name="m", parent_external_id="root"),
            AssetWrite(external_id="leaf", name="l", parent_external_id="mid"),
        ]
    )
    ids = {a.external_id: a.id for a in client.assets.list(limit=None) if a.external_id is not None}
    resolver = AssetIDResolver(aclient)
    assert await resolver.ancestors_async("leaf") == [ids["mid"], ids["root"]]
    assert await resolver.ancestors_async("root") == []
    assert await resolver.root_id_async("leaf") == ids["root"]
    assert AssetIDResolver(client).root_id("mid") == ids["root"]
    fresh = AssetIDResolver(aclient)
    assert await fresh.external_ids_async([ids["leaf"], 123]) == {ids["leaf"]: "leaf"}


async def test_a_shared_cache_serves_a_second_resolver(
    fake_cdf: FakeCDF, client: CogniteClient, aclient: AsyncCogniteClient
) -> None:
    ids = make_assets(client, 50)
    cache = MemoryCache()
    await AssetIDResolver(aclient, cache).resolve_async([*list(ids), "ghost"])
    fake_cdf.reset_request_log()
    second = AssetIDResolver(aclient, cache)
    assert await second.resolve_async([*list(ids), "ghost"]) == ids
    assert byids_requests(fake_cdf) == 0
    await second.invalidate_async(["A1"])
    assert (await cache.get_many(["cdf-asset-id:test-project:A1"])) == {}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    calls=st.lists(st.lists(st.integers(0, 2_999), min_size=1, max_size=700), min_size=1, max_size=8),
    yields=st.lists(st.integers(0, 3), min_size=8, max_size=8),
)
def test_any_interleaving_equals_sequential_and_stays_within_the_request_bound(
    fake_cdf: FakeCDF, calls: list[list[int]], yields: list[int]
) -> None:
    known = _known_assets(fake_cdf)
    aclient = fake_cdf.async_cognite_client()

    async def scenario() -> None:
        resolver = AssetIDResolver(aclient)
        fake_cdf.reset_request_log()

        async def call(i: int, keys: list[int]) -> dict[str, int]:
            for _ in range(yields[i]):
                await asyncio.sleep(0)
            return await resolver.resolve_async([f"H{k}" for k in keys])

        results = await asyncio.gather(*(call(i, keys) for i, keys in enumerate(calls)))
        for keys, result in zip(calls, results, strict=True):
            assert result == {f"H{k}": known[f"H{k}"] for k in keys if f"H{k}" in known}
        # Each distinct key is looked up once: calls that start together share ceil(distinct / 1000) requests; a
        # call that starts `w` ticks later can add at most one partial chunk per later wave.
        distinct = len({k for keys in calls for k in keys})
        waves = max(yields[: len(calls)])
        assert byids_requests(fake_cdf) <= math.ceil(distinct / 1000) + waves
        before = byids_requests(fake_cdf)
        again = await asyncio.gather(*(resolver.resolve_async([f"H{k}" for k in keys]) for keys in calls))
        assert again == results
        assert byids_requests(fake_cdf) == before  # known and unknown ids alike are now cached

    asyncio.run(scenario())


def _known_assets(fake: FakeCDF) -> dict[str, int]:
    existing = {a["externalId"]: a["id"] for a in fake.assets if a.get("externalId", "").startswith("H")}
    if not existing:
        client = fake.cognite_client()
        created = client.assets.create([AssetWrite(external_id=f"H{i}", name="h") for i in range(0, 3_000, 3)])
        existing = {a.external_id: a.id for a in created if a.external_id is not None}
    return existing


def test_prime_accepts_sdk_assets_and_api_dicts(fake_cdf: FakeCDF, client: CogniteClient) -> None:
    created = client.assets.create([AssetWrite(external_id="p", name="p"), AssetWrite(external_id="q", name="q")])
    resolver = AssetIDResolver(client)
    assert resolver.prime(created) == 2
    assert resolver.prime([{"id": 5, "externalId": "r", "rootId": 5}]) == 1
    fake_cdf.reset_request_log()
    assert resolver.resolve(["p", "r"]) == {"p": created[0].id, "r": 5}
    assert resolver.root_id("r") == 5
    assert byids_requests(fake_cdf) == 0


def test_get_resolver_lives_as_long_as_its_client(fake_cdf: FakeCDF) -> None:
    import gc
    import weakref

    aclient = fake_cdf.async_cognite_client()
    ref = weakref.ref(get_resolver(aclient))
    assert get_resolver(aclient) is ref()
    del aclient
    gc.collect()
    assert ref() is None


async def test_hierarchy_helpers_read_parents_even_for_ids_primed_without_them(
    fake_cdf: FakeCDF, client: CogniteClient, aclient: AsyncCogniteClient
) -> None:
    root = client.assets.create(AssetWrite(external_id="root", name="r"))
    mid = client.assets.create(AssetWrite(external_id="mid", name="m", parent_external_id="root"))
    leaf = client.assets.create(AssetWrite(external_id="leaf", name="l", parent_external_id="mid"))
    resolver = AssetIDResolver(aclient)
    resolver.prime({"leaf": leaf.id, "mid": mid.id})  # ids only: no parentId / rootId known yet

    assert await resolver.ancestors_async("leaf") == [mid.id, root.id]
    assert await resolver.root_id_async("mid") == root.id


async def test_an_in_process_cache_does_not_hold_the_id_map_a_second_time(
    fake_cdf: FakeCDF, client: CogniteClient, aclient: AsyncCogniteClient
) -> None:
    ids = make_assets(client, 50)
    cache = MemoryCache()
    resolver = AssetIDResolver(aclient, cache)
    assert await resolver.resolve_async(list(ids)) == ids
    assert len(cache) == 0  # the ids live once, in the map the cache lends the resolver
    await cache.clear()
    fake_cdf.reset_request_log()
    assert await resolver.resolve_async(["A1"]) == {"A1": ids["A1"]}
    assert byids_requests(fake_cdf) == 1
