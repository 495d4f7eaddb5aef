"""Type-checked usage of the public API (run by `mypy --strict`, and executed by pytest as a smoke test).

If a documented example stops type-checking, this file fails `nox -s types` and CI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import ClassVar, assert_type

from cognite.client import AsyncCogniteClient, CogniteClient
from cognite.client.data_classes import AssetWrite

from plex_cognite import (
    AssetIDResolver,
    BaseExtractor,
    CircuitBreaker,
    EventAssetLinker,
    EventItem,
    ExtractorContext,
    ExtractorSettings,
    MemoryCache,
    MemoryStateStore,
    ReadAheadBudget,
    ReadAheadReader,
    RetryPolicy,
    TokenBucketRateLimiter,
    WriteResult,
    classify,
    get_resolver,
    with_retry,
)
from plex_cognite.cdf import DatapointsItem, PointArray
from plex_cognite.errors import ErrorCategory
from plex_cognite.testing import FakeCDF
from plex_cognite.typing import CacheBackend, PreparingSink, RateLimiter, Sink, Source, TimeWindow


def seed_usage_is_synchronous(client: CogniteClient) -> list[int]:
    resolver = get_resolver(client)
    linker = EventAssetLinker(resolver)
    ids = linker.prepare_event_asset_ids(["PCN340884_PART_123"])
    assert_type(resolver.resolve(["PCN340884_PART_123"]), dict[str, int])
    return ids


async def seed_usage_is_awaitable(client: AsyncCogniteClient) -> list[int]:
    resolver = AssetIDResolver(client, cache=MemoryCache())
    linker = EventAssetLinker(resolver)
    mapping = await resolver.resolve(["PCN340884_PART_123"])
    assert_type(mapping, dict[str, int])
    return await linker.prepare_event_asset_ids(["PCN340884_PART_123"])


@with_retry(RetryPolicy(max_attempts=3))
def fetch_sync(x: int) -> str:
    return str(x)


@with_retry(max_attempts=2)
async def fetch_async(x: int) -> str:
    return str(x)


breaker = CircuitBreaker("plex", failure_threshold=3)


@breaker
async def guarded(x: int) -> int:
    return x


class ListSource:
    """A user's own source: anything with `read` fits `Source`."""

    def __init__(self, rows: Sequence[dict[str, str]]) -> None:
        self.rows = rows

    async def read(self, window: TimeWindow | None = None) -> AsyncIterator[Sequence[dict[str, str]]]:
        yield self.rows


class CountingSink:
    """A user's own sink: anything with `write` returning a `WriteResult` fits `Sink`."""

    def __init__(self) -> None:
        self.seen = 0

    async def write(self, items: Sequence[EventItem]) -> WriteResult:
        self.seen += len(items)
        return WriteResult(created=[item.external_id for item in items])


class WarmingSink(CountingSink):
    """A user's sink that gets ready for a pipelined write before it is made."""

    warmed = 0

    async def prepare(self, items: Sequence[EventItem]) -> None:
        self.warmed += len(items)


def protocols_accept_user_classes() -> tuple[Source[dict[str, str]], Sink[EventItem], CacheBackend, RateLimiter]:
    return ListSource([]), CountingSink(), MemoryCache(), TokenBucketRateLimiter(rate_per_minute=200)


def test_a_sink_with_prepare_is_a_preparing_sink() -> None:
    warming: PreparingSink[EventItem] = WarmingSink()
    assert isinstance(warming, PreparingSink)
    assert not isinstance(CountingSink(), PreparingSink)


def test_decorated_functions_keep_their_types() -> None:
    assert_type(fetch_sync(1), str)
    assert fetch_sync(1) == "1"
    assert classify(ValueError()).category is ErrorCategory.FATAL


async def test_async_decorators_and_protocols() -> None:
    assert await fetch_async(2) == "2"
    assert await guarded(3) == 3
    source, sink, cache, limiter = protocols_accept_user_classes()
    async for batch in source.read((datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))):
        assert list(batch) == []
    result = await sink.write([EventItem(external_id="e1", type="job")])
    assert result.created == ["e1"]
    await cache.set_many({"k": 1})
    assert await cache.get_many(["k"]) == {"k": 1}
    await limiter.acquire()
    assert isinstance(source, Source)
    assert isinstance(sink, Sink)


def test_seed_usage_against_fake_cdf() -> None:
    with FakeCDF() as cdf:
        client = cdf.cognite_client()
        created = client.assets.create(AssetWrite(external_id="PCN340884_PART_123", name="part"))
        assert seed_usage_is_synchronous(client) == [created.id]


def test_settings_model_is_typed() -> None:
    settings = ExtractorSettings.model_validate(
        {
            "plex": {"api_key": "k", "pcns": ["340884"]},
            "cdf": {"base_url": "https://api.cognitedata.com", "project": "p", "token": "t"},
            "extraction": {"start": "2025-01-01T00:00:00Z"},
        }
    )
    assert_type(settings.plex.pcns, list[str])
    assert settings.plex.api_key.get_secret_value() == "k"


def test_point_arrays_stand_in_for_lists_of_pairs() -> None:
    points = PointArray([(1_000, 1.0), (2_000, 2.5)])
    assert_type(points[0], tuple[int, float])
    assert_type(points[1:], PointArray)
    item = DatapointsItem("PCN1_WC_1_PRODUCED_QTY", points)
    pairs: Sequence[tuple[int, float]] = item.datapoints
    assert pairs == [(1_000, 1.0), (2_000, 2.5)]
    assert DatapointsItem.from_json(item.to_json()) == item


def test_extractors_of_one_process_can_share_a_read_ahead_budget() -> None:
    budget = ReadAheadBudget(records=10_000)
    store = MemoryStateStore()
    contexts = [ExtractorContext(pcn, store, window_records_ahead=budget) for pcn in ("340884", "340885")]
    assert all(context.window_records_ahead is budget for context in contexts)
    with budget.reading() as production, budget.reading() as scrap:
        assert_type(production, ReadAheadReader)
        assert_type(budget.share(), int)
        assert budget.share() == 5_000
        production.records_left, scrap.records_left = 90_000, 10_000
        assert (production.share(), scrap.share()) == (9_000, 1_000)


class WorkcentersOnly(BaseExtractor):
    """Items linked to workcenters only: the stream starts before master data has written the parts."""

    stream: ClassVar[str] = "workcenters_only"
    needs_parts: ClassVar[bool] = False

    async def extract(self) -> None:
        """Nothing to read here."""


class MyAssets(BaseExtractor):
    """An asset stream that says when its plant, buildings and workcenters are written."""

    stream: ClassVar[str] = "my_assets"
    needs_assets: ClassVar[bool] = False

    async def extract(self) -> None:
        """Write the upper levels, say so, then the rest."""
        self.upper_assets_written()


async def test_an_asset_stream_says_when_its_upper_levels_are_written() -> None:
    extractor = MyAssets(ExtractorContext("340884", MemoryStateStore()))
    await extractor.run()
    assert_type(await extractor.upper_assets_ready(), bool)
    assert await extractor.upper_assets_ready()
    assert not WorkcentersOnly.needs_parts
