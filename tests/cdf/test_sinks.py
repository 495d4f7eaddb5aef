from __future__ import annotations

import asyncio
import dataclasses
import gc
import random
from collections import Counter
from typing import Any

import pytest
from cognite.client import AsyncCogniteClient, global_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plex_cognite.cdf import (
    AssetIDResolver,
    AssetItem,
    AssetSink,
    AssetsNotFoundError,
    DatapointsItem,
    DatapointsSink,
    EventItem,
    EventSink,
    PointArray,
    RawRowItem,
    RawSink,
    TimeSeriesItem,
    TimeSeriesSink,
    get_resolver,
)
from plex_cognite.cdf._upsert import CdfApi, _bytes_poster
from plex_cognite.core.results import WriteResult
from plex_cognite.errors import CogniteWriteError
from plex_cognite.resilience import RetryPolicy
from plex_cognite.testing._faults import Fault
from plex_cognite.testing.fake_cdf import FakeCDF, ResourceKind
from plex_cognite.typing import PreparingSink

FAST_RETRY = RetryPolicy(max_attempts=5, initial_wait_s=0.01, min_wait_s=0.01, max_wait_s=0.05, name="cdf-test")


def hierarchy(n_mid: int = 49, n_leaf: int = 4_950) -> list[AssetItem]:
    items = [AssetItem("root", "root")]
    items += [AssetItem(f"mid{i}", f"mid {i}", parent_external_id="root") for i in range(n_mid)]
    items += [AssetItem(f"leaf{i}", f"leaf {i}", parent_external_id=f"mid{i % n_mid}") for i in range(n_leaf)]
    return items


def parents_in_cdf(fake: FakeCDF) -> dict[str, str | None]:
    by_id = {a["id"]: a["externalId"] for a in fake.assets}
    return {a["externalId"]: by_id.get(a.get("parentId")) for a in fake.assets}


def stored(fake: FakeCDF, kind: ResourceKind, external_id: str) -> dict[str, Any]:
    found = fake.get(kind, external_id)
    assert found is not None, f"{kind} {external_id!r} is not in CDF"
    return found


def creates(fake: FakeCDF, resource: str) -> int:
    return fake.request_counts(method="POST", path=f"/{resource}")


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32))
def test_a_5000_asset_hierarchy_lands_with_correct_parents_in_any_order(fake_cdf: FakeCDF, seed: int) -> None:
    fake_cdf.reset()
    items = hierarchy()
    random.Random(seed).shuffle(items)
    result = asyncio.run(AssetSink(fake_cdf.async_cognite_client(), retry=FAST_RETRY).write(items))

    assert result.ok
    assert len(result.created) == 5_000
    assert parents_in_cdf(fake_cdf) == {i.external_id: i.parent_external_id for i in items}
    assert creates(fake_cdf, "assets") == 5


async def test_a_rerun_over_unchanged_assets_updates_nothing(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    items = hierarchy(3, 30)
    sink = AssetSink(aclient, retry=FAST_RETRY)
    await sink.write(items)
    fake_cdf.reset_request_log()

    result = await sink.write(items)

    assert sorted(result.unchanged) == sorted(i.external_id for i in items)
    assert fake_cdf.request_counts(method="POST", path="/assets/update") == 0


async def test_only_changed_assets_are_updated_and_reparenting_works(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    items = hierarchy(3, 30)
    sink = AssetSink(aclient, retry=FAST_RETRY)
    await sink.write(items)
    changed = [
        AssetItem("leaf0", "leaf 0", parent_external_id="mid2"),  # re-parented
        AssetItem("leaf1", "leaf 1", parent_external_id="mid1", description="now described"),
        AssetItem("leaf2", "leaf 2", parent_external_id="mid2"),  # unchanged
    ]
    fake_cdf.reset_request_log()

    result = await sink.write(changed)

    assert sorted(result.updated) == ["leaf0", "leaf1"]
    assert result.unchanged == ["leaf2"]
    assert fake_cdf.request_counts(method="POST", path="/assets/update") == 1
    assert parents_in_cdf(fake_cdf)["leaf0"] == "mid2"
    assert stored(fake_cdf, "assets", "leaf1")["description"] == "now described"


async def test_an_asset_without_parent_fails_with_its_descendants(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    items = [
        AssetItem("root", "r"),
        AssetItem("orphan", "o", parent_external_id="nowhere"),
        AssetItem("orphan-child", "oc", parent_external_id="orphan"),
        AssetItem("fine", "f", parent_external_id="root"),
    ]
    result = await AssetSink(aclient, retry=FAST_RETRY).write(items)
    assert sorted(result.created) == ["fine", "root"]
    assert sorted(f.key for f in result.failed) == ["orphan", "orphan-child"]
    assert "nowhere" in result.failed[0].reason or "orphan" in result.failed[0].reason


async def test_the_asset_sink_primes_the_resolver(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    resolver = AssetIDResolver(aclient)
    await AssetSink(aclient, resolver=resolver, retry=FAST_RETRY).write(hierarchy(2, 10))
    fake_cdf.reset_request_log()
    found = await resolver.resolve_async(["root", "mid1", "leaf9"])
    assert found["leaf9"] == stored(fake_cdf, "assets", "leaf9")["id"]
    assert fake_cdf.request_counts(method="POST", path="/assets/byids") == 0


def events(n: int, assets: tuple[str, ...] = ("root",)) -> list[EventItem]:
    return [
        EventItem(
            f"ev{i}", type="job", start_time=1_700_000_000_000 + i, metadata={"i": str(i)}, asset_external_ids=assets
        )
        for i in range(n)
    ]


FAULTS = [
    Fault("status", status=503, method="POST", path=r"^/events$", times=2),
    Fault("status", status=500, method="POST", path=r"^/events$", times=1),
    Fault("status", status=429, method="POST", path=r"^/events$", times=2),
    Fault("status", status=503, method="POST", path=r"^/events/byids$", times=1),
    Fault("drop", method="POST", path=r"^/events$", times=2),
    Fault("commit_then_fail", method="POST", path=r"^/events$", times=2),
    Fault("commit_then_drop", method="POST", path=r"^/events$", times=2),
    Fault("latency", delay_s=0.2, method="POST", path=r"^/events$", times=2),
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f.kind}-{f.status}-{f.path}")
async def test_every_fault_kind_leaves_exactly_one_event_per_external_id(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient, fault: Fault
) -> None:
    await AssetSink(aclient, retry=FAST_RETRY).write([AssetItem("root", "root")])
    sink = EventSink(aclient, retry=FAST_RETRY)
    items = events(2_500)
    await sink.write(items[:600])  # some exist already, so creates meet 409 and updates happen too
    fake_cdf.inject(fault)

    result = await sink.write(
        [*items[:300], *(dataclasses.replace(e, subtype="x") for e in items[300:600]), *items[600:]]
    )

    assert fault.hits > 0
    assert result.ok, result.failed[:3]
    assert sorted(result.created + result.updated + result.unchanged) == sorted(e.external_id for e in items)
    counts = Counter(e["externalId"] for e in fake_cdf.events)
    assert set(counts) == {e.external_id for e in items}
    assert max(counts.values()) == 1
    root_id = stored(fake_cdf, "assets", "root")["id"]
    assert all(e["assetIds"] == [root_id] for e in fake_cdf.events)
    assert all(stored(fake_cdf, "events", f"ev{i}")["subtype"] == "x" for i in range(300, 600))


async def test_commit_then_fail_reports_created_not_unchanged(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    fake_cdf.inject(Fault("commit_then_fail", method="POST", path=r"^/events$", times=1))
    result = await EventSink(aclient, retry=FAST_RETRY).write(events(10, ()))
    assert sorted(result.created) == sorted(f"ev{i}" for i in range(10))
    assert len(fake_cdf.events) == 10


@pytest.mark.parametrize("policy", ["defer", "skip_link", "fail"])
async def test_event_sink_missing_asset_policies(fake_cdf: FakeCDF, aclient: AsyncCogniteClient, policy: str) -> None:
    await AssetSink(aclient, retry=FAST_RETRY).write([AssetItem("root", "root")])
    sink = EventSink(aclient, on_missing_asset=policy, retry=FAST_RETRY)  # type: ignore[arg-type]
    items = [EventItem("ok", asset_external_ids=("root",)), EventItem("held", asset_external_ids=("root", "ghost"))]
    if policy == "fail":
        with pytest.raises(AssetsNotFoundError, match="ghost"):
            await sink.write(items)
        assert fake_cdf.events == []
        return
    result = await sink.write(items)
    root_id = stored(fake_cdf, "assets", "root")["id"]
    if policy == "defer":
        assert result.created == ["ok"]
        assert [(f.key, f.deferred) for f in result.failed] == [("held", True)]
        assert fake_cdf.get("events", "held") is None
    else:
        assert sorted(result.created) == ["held", "ok"]
        assert stored(fake_cdf, "events", "held")["assetIds"] == [root_id]
        assert sink.skipped_links == 1


async def test_a_prepared_event_batch_is_written_without_looking_an_asset_up(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    await AssetSink(aclient, retry=FAST_RETRY).write([AssetItem("root", "root")])
    resolver = AssetIDResolver(aclient)  # nothing cached: the root is looked up too
    sink = EventSink(aclient, resolver=resolver, retry=FAST_RETRY)
    assert isinstance(sink, PreparingSink)
    items = [EventItem("ok", asset_external_ids=("root",)), EventItem("held", asset_external_ids=("root", "ghost"))]
    await sink.prepare(items)
    lookups = fake_cdf.request_counts(path="/assets/byids")
    assert lookups >= 1
    result = await sink.write(items)
    assert fake_cdf.request_counts(path="/assets/byids") == lookups  # found and missing ids both came from prepare
    assert result.created == ["ok"]
    assert [(f.key, f.deferred) for f in result.failed] == [("held", True)]


async def test_time_series_are_linked_by_numeric_asset_id(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    await AssetSink(aclient, retry=FAST_RETRY).write([AssetItem("wc", "wc")])
    sink = TimeSeriesSink(aclient, data_set_id=None, retry=FAST_RETRY)
    result = await sink.write(
        [
            TimeSeriesItem("ts1", "TS 1", asset_external_id="wc", unit="pcs"),
            TimeSeriesItem("ts2", "TS 2", asset_external_id="ghost"),
        ]
    )
    assert result.created == ["ts1"]
    assert result.failed[0].deferred
    assert stored(fake_cdf, "timeseries", "ts1")["assetId"] == stored(fake_cdf, "assets", "wc")["id"]
    again = await sink.write([TimeSeriesItem("ts1", "TS 1", asset_external_id="wc", unit="kg")])
    assert again.updated == ["ts1"]
    assert stored(fake_cdf, "timeseries", "ts1")["unit"] == "kg"


async def test_datapoints_are_summed_sanitised_and_packed(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    await TimeSeriesSink(aclient, retry=FAST_RETRY).write([TimeSeriesItem("a", "a"), TimeSeriesItem("b", "b")])
    fake_cdf.reset_request_log()
    sink = DatapointsSink(aclient, retry=FAST_RETRY, max_points_per_request=1_000)
    result = await sink.write(
        [
            DatapointsItem("a", [(1, 1.0), (1, 2.0), (2, float("nan"))]),
            DatapointsItem("a", [(3, 3.0)]),
            DatapointsItem("b", [(t, 1.0) for t in range(2_500)]),
            DatapointsItem("missing", [(1, 1.0)]),
        ]
    )
    assert sorted(result.created) == ["a", "b"]
    assert sorted(f.key for f in result.failed) == ["a@2", "missing"]
    assert fake_cdf.datapoints("a") == [(1, 3.0), (3, 3.0)]
    assert len(fake_cdf.datapoints("b")) == 2_500
    assert fake_cdf.request_counts(method="POST", path="/timeseries/data") >= 3


async def test_point_arrays_of_a_series_are_joined_and_written(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    await TimeSeriesSink(aclient, retry=FAST_RETRY).write([TimeSeriesItem("a", "a"), TimeSeriesItem("b", "b")])
    sink = DatapointsSink(aclient, retry=FAST_RETRY, max_points_per_request=1_000)
    result = await sink.write(
        [
            DatapointsItem("a", PointArray([(t, 1.0) for t in range(1_500)])),
            DatapointsItem("a", PointArray([(t, 2.0) for t in range(1_500, 2_000)])),  # in order: kept compact
            DatapointsItem("b", PointArray([(5, 1.0), (9, float("inf"))])),
            DatapointsItem("b", PointArray([(5, 2.0)])),  # the same millisecond again: summed
        ]
    )
    assert sorted(result.created) == ["a", "b"]
    assert [f.key for f in result.failed] == ["b@9"]
    assert fake_cdf.datapoints("a") == [(t, 1.0 if t < 1_500 else 2.0) for t in range(2_000)]
    assert fake_cdf.datapoints("b") == [(5, 3.0)]


def _live_responses() -> int:
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "Response" and hasattr(o, "aread"))


async def test_sdk_responses_are_freed_without_waiting_for_the_garbage_collector(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    # The SDK caches `.json()` on the response itself, a reference cycle that only the cyclic collector frees.
    api = CdfApi(aclient)
    await api.post("/events", {"items": [{"externalId": "warm-up"}]})
    gc.collect()
    gc.disable()
    try:
        before = _live_responses()
        for n in range(5):
            await api.post("/events", {"items": [{"externalId": f"answered-{n}"}]})
            await api.post_no_answer("/events", {"items": [{"externalId": f"unanswered-{n}"}]})
        assert _live_responses() - before <= 0
    finally:
        gc.enable()


async def test_raw_rows_are_written_last_key_wins(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    sink = RawSink(aclient, "db", "table", retry=FAST_RETRY)
    rows = [RawRowItem(f"k{i}", {"i": i}) for i in range(6_000)] + [RawRowItem("k0", {"i": -1})]
    result = await sink.write(rows)
    assert len(result.created) == 6_000
    stored = fake_cdf.raw_rows("db", "table")
    assert len(stored) == 6_000
    assert stored["k0"] == {"i": -1}


@pytest.mark.parametrize(
    "fault",
    [
        Fault("commit_then_fail", method="POST", path=r"^/assets$", times=2),
        Fault("commit_then_drop", method="POST", path=r"^/assets$", times=1),
        Fault("status", status=503, method="POST", path=r"^/assets/update$", times=1),
    ],
    ids=lambda f: f"{f.kind}-{f.path}",
)
async def test_asset_faults_leave_one_asset_per_external_id(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient, fault: Fault
) -> None:
    items = hierarchy(20, 2_200)
    sink = AssetSink(aclient, retry=RetryPolicy(initial_wait_s=0.01, min_wait_s=0.01, max_wait_s=0.05))
    await sink.write(items[:100])
    fake_cdf.inject(fault)
    moved = [
        dataclasses.replace(i, parent_external_id="mid0") if i.external_id in ("leaf1", "leaf2") else i for i in items
    ]
    random.Random(3).shuffle(moved)

    result = await sink.write(moved)

    assert fault.hits > 0
    assert result.ok, result.failed[:3]
    counts = Counter(a["externalId"] for a in fake_cdf.assets)
    assert len(counts) == len(items)
    assert max(counts.values()) == 1
    assert parents_in_cdf(fake_cdf) == {i.external_id: i.parent_external_id for i in moved}


async def test_a_sync_client_works_and_metrics_hear_every_write(fake_cdf: FakeCDF) -> None:
    class Metrics:
        def __init__(self) -> None:
            self.calls: list[tuple[str, int]] = []

        def record_sink_write(self, resource: str, result: WriteResult, seconds: float) -> None:
            self.calls.append((resource, result.written))

    metrics = Metrics()
    client = fake_cdf.cognite_client()
    await AssetSink(client, metrics=metrics, retry=FAST_RETRY).write([AssetItem("root", "root")])
    await EventSink(client, metrics=metrics, retry=FAST_RETRY).write(events(3))
    assert metrics.calls == [("assets", 1), ("events", 3)]
    # The asset sink primed the resolver the seed's code gets for this client.
    fake_cdf.reset_request_log()
    assert get_resolver(client).resolve(["root"]) == {"root": stored(fake_cdf, "assets", "root")["id"]}
    assert fake_cdf.request_counts(method="POST", path="/assets/byids") == 0


async def test_reparenting_to_a_missing_parent_fails_only_that_asset(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    sink = AssetSink(aclient, retry=FAST_RETRY)
    await sink.write(hierarchy(2, 4))

    result = await sink.write(
        [AssetItem("leaf0", "leaf 0", parent_external_id="nowhere"), AssetItem("leaf1", "renamed", "mid1")]
    )

    assert result.updated == ["leaf1"]
    assert [(f.key, "nowhere" in f.reason) for f in result.failed] == [("leaf0", True)]
    assert parents_in_cdf(fake_cdf)["leaf0"] == "mid0"
    assert stored(fake_cdf, "assets", "leaf1")["name"] == "renamed"


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_raise_instead_of_failing_every_item(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient, status: int
) -> None:
    fake_cdf.inject(Fault("status", status=status, method="POST", path=r"^/events$"))
    with pytest.raises(CogniteWriteError, match="check credentials") as info:
        await EventSink(aclient, retry=FAST_RETRY).write(events(3, ()))
    assert info.value.status == status
    assert fake_cdf.events == []


async def test_a_chunk_that_keeps_failing_fails_its_items_and_the_rest_is_written(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    fake_cdf.inject(Fault("status", status=500, method="POST", path=r"^/events$", times=1))
    sink = EventSink(aclient, retry=RetryPolicy(max_attempts=1), concurrency=1, chunk_size=2)

    result = await sink.write(events(4, ()))

    assert sorted(f.key for f in result.failed) == ["ev0", "ev1"]
    assert "500" in result.failed[0].reason
    assert sorted(result.created) == ["ev2", "ev3"]


async def test_a_500_on_a_datapoints_insert_is_retried_by_the_batch_policy(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    # The cognite-sdk retries 429/502/503/504 and dropped connections on this idempotent endpoint, not a 500.
    await TimeSeriesSink(aclient, retry=FAST_RETRY).write([TimeSeriesItem("a", "a")])
    fault = Fault("status", status=500, method="POST", path=r"^/timeseries/data$", times=1)
    fake_cdf.inject(fault)

    result = await DatapointsSink(aclient, retry=FAST_RETRY).write([DatapointsItem("a", [(1, 1.0), (2, 2.0)])])

    assert fault.hits == 1
    assert result.ok
    assert result.created == ["a"]
    assert fake_cdf.datapoints("a") == [(1, 1.0), (2, 2.0)]


@pytest.mark.parametrize("disable_gzip", [False, True])
async def test_bodies_arrive_whole_compressed_or_not_and_the_sdk_setting_is_left_alone(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient, disable_gzip: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(global_config, "disable_gzip", disable_gzip)
    await TimeSeriesSink(aclient, data_set_id=None, retry=FAST_RETRY).write([TimeSeriesItem("s", "s")])
    events = [EventItem(f"e{i}", description="ünïcode ✓", metadata={"k": "v" * i}) for i in range(1500)]
    assert len((await EventSink(aclient, retry=FAST_RETRY).write(events)).created) == 1500
    points = [(1_700_000_000_000 + i, i / 3) for i in range(250_001)]
    assert (await DatapointsSink(aclient, retry=FAST_RETRY).write([DatapointsItem("s", points)])).created == ["s"]
    assert stored(fake_cdf, "events", "e1499")["description"] == "ünïcode ✓"
    assert fake_cdf.datapoints("s") == points
    assert global_config.disable_gzip is disable_gzip


def test_the_sdk_still_takes_pre_encoded_bodies(aclient: AsyncCogniteClient) -> None:
    # The sinks hand the SDK bytes they encoded themselves; a cognite-sdk release without that request method
    # would silently send every body through the SDK's slower encoder (still correct, but this should be noticed).
    assert _bytes_poster(aclient) is not None
