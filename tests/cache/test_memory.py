from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.cache import CacheStats, MemoryCache
from plex_cognite.errors import ConfigurationError
from plex_cognite.typing import CacheBackend

from ._helpers import FakeClock, run_now


def make(max_size: int = 100, ttl_s: float | None = 60.0) -> tuple[MemoryCache, FakeClock]:
    clock = FakeClock()
    return MemoryCache(max_size=max_size, ttl_s=ttl_s, timer=clock), clock


def test_is_a_cache_backend() -> None:
    assert isinstance(MemoryCache(), CacheBackend)


async def test_set_then_get_returns_only_present_keys_and_counts_hits_and_misses() -> None:
    cache, _ = make()
    await cache.set_many({"PCN1_PART_1": 11, "PCN1_PART_2": "x", "PCN1_PART_3": {"a": [1, None]}})

    assert await cache.get_many(["PCN1_PART_1", "PCN1_PART_3", "nope"]) == {
        "PCN1_PART_1": 11,
        "PCN1_PART_3": {"a": [1, None]},
    }
    assert cache.stats == CacheStats(hits=2, misses=1, sets=3)
    assert cache.stats.hit_ratio == pytest.approx(2 / 3)


async def test_items_expire_after_the_default_ttl() -> None:
    cache, clock = make(ttl_s=60)
    await cache.set_many({"a": 1})
    clock.advance(59.9)
    assert await cache.get_many(["a"]) == {"a": 1}
    clock.advance(0.2)
    assert await cache.get_many(["a"]) == {}
    assert len(cache) == 0
    assert cache.stats.expirations == 1
    assert cache.stats.evictions == 0


async def test_a_per_call_ttl_overrides_the_default() -> None:
    cache, clock = make(ttl_s=3600)
    await cache.set_many({"unknown": None}, ttl=5)
    await cache.set_many({"known": 1})
    clock.advance(6)
    assert await cache.get_many(["unknown", "known"]) == {"known": 1}


async def test_a_zero_ttl_removes_the_key() -> None:
    cache, _ = make()
    await cache.set_many({"a": 1})
    await cache.set_many({"a": 2, "b": 3}, ttl=0)
    assert await cache.get_many(["a", "b"]) == {}


async def test_ttl_none_keeps_items_until_evicted() -> None:
    cache, clock = make(ttl_s=None)
    await cache.set_many({"a": 1})
    clock.advance(10 * 365 * 86400)
    assert await cache.get_many(["a"]) == {"a": 1}


async def test_the_least_recently_used_item_is_evicted_and_counted() -> None:
    cache, _ = make(max_size=3)
    await cache.set_many({"a": 1, "b": 2, "c": 3})
    await cache.get_many(["a"])  # a is now more recent than b
    await cache.set_many({"d": 4})

    assert await cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}
    assert cache.stats.evictions == 1
    assert len(cache) == 3


async def test_expired_items_make_room_without_counting_as_evictions() -> None:
    cache, clock = make(max_size=2, ttl_s=10)
    await cache.set_many({"a": 1, "b": 2})
    clock.advance(11)
    await cache.set_many({"c": 3, "d": 4})
    assert cache.stats.evictions == 0
    assert cache.stats.expirations == 2
    assert await cache.get_many(["c", "d"]) == {"c": 3, "d": 4}


async def test_delete_many_ignores_missing_keys() -> None:
    cache, _ = make()
    await cache.set_many({"a": 1, "b": 2})
    await cache.delete_many(["a", "zzz"])
    assert await cache.get_many(["a", "b"]) == {"b": 2}


async def test_delete_prefix_counts_only_live_matching_keys() -> None:
    cache, clock = make(ttl_s=100)
    await cache.set_many({"PCN1_old": 0}, ttl=1)
    await cache.set_many({"PCN1_a": 1, "PCN1_b": 2, "PCN2_a": 3})
    clock.advance(2)
    assert await cache.delete_prefix("PCN1_") == 2
    assert await cache.get_many(["PCN1_a", "PCN1_b", "PCN2_a"]) == {"PCN2_a": 3}


async def test_clear_empties_the_cache_and_keeps_counters() -> None:
    cache, _ = make()
    await cache.set_many({"a": 1})
    await cache.get_many(["a"])
    await cache.clear()
    assert await cache.get_many(["a"]) == {}
    assert cache.stats == CacheStats(hits=1, misses=1, sets=1)


async def test_warm_streams_pairs_from_an_iterable() -> None:
    cache, _ = make(max_size=10_000)
    loaded = await cache.warm((f"PCN1_PART_{i}", i) for i in range(5000))
    assert loaded == 5000
    assert await cache.get_many(["PCN1_PART_4999"]) == {"PCN1_PART_4999": 4999}
    assert await cache.warm({"x": 1}, ttl=1) == 1


@pytest.mark.parametrize(("kwargs", "field"), [({"max_size": 0}, "cache.max_size"), ({"ttl_s": 0}, "cache.ttl_s")])
def test_invalid_settings_name_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        MemoryCache(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_many_threads_each_with_its_own_event_loop_share_one_cache() -> None:
    cache = MemoryCache(max_size=1_000_000)
    threads, tasks, rounds = 6, 20, 25
    errors: list[BaseException] = []

    async def worker(thread: int, task: int) -> None:
        for i in range(rounds):
            own = f"t{thread}-k{task}-{i}"
            await cache.set_many({own: i, "shared": thread})
            got = await cache.get_many([own, "shared"])
            assert got[own] == i
            assert got["shared"] in range(threads)
            await asyncio.sleep(0)

    def run_loop(thread: int) -> None:
        async def main() -> None:
            await asyncio.gather(*(worker(thread, t) for t in range(tasks)))

        try:
            asyncio.run(main())
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    pool = [threading.Thread(target=run_loop, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()

    assert errors == []
    total = threads * tasks * rounds
    assert len(cache) == total + 1
    assert cache.stats == CacheStats(hits=2 * total, misses=0, sets=2 * total)


# --- model-based: any sequence of operations behaves like a dict with expiry times -----------------------------

keys = st.sampled_from([f"k{i}" for i in range(8)] + ["pre_a", "pre_b", "pre"])
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"),
            st.dictionaries(keys, st.integers(), max_size=4),
            st.sampled_from([None, 1, 5, 0]),
        ),
        st.tuples(st.just("get"), st.lists(keys, max_size=5)),
        st.tuples(st.just("delete"), st.lists(keys, max_size=3)),
        st.tuples(st.just("prefix"), st.sampled_from(["pre", "pre_", "k", "x", ""])),
        st.tuples(st.just("advance"), st.sampled_from([0.5, 1, 3, 10])),
        st.tuples(st.just("clear")),
    ),
    max_size=40,
)


@settings(max_examples=100)
@given(operations)
def test_random_operations_match_a_dict_model(ops: list[tuple[object, ...]]) -> None:
    clock = FakeClock()
    cache = MemoryCache(max_size=1000, ttl_s=3, timer=clock)
    model: dict[str, tuple[int, float]] = {}  # key -> (value, expires at)

    def live() -> dict[str, int]:
        return {k: v for k, (v, exp) in model.items() if clock.now < exp}

    for op in ops:
        match op:
            case ("set", items, ttl):
                assert isinstance(items, dict)
                run_now(cache.set_many(items, ttl))  # type: ignore[arg-type]
                for k, v in items.items():
                    model[k] = (v, clock.now + (3 if ttl is None else ttl))  # type: ignore[operator]
            case ("get", wanted):
                assert isinstance(wanted, list)
                expected = {k: v for k, v in live().items() if k in wanted}
                assert run_now(cache.get_many(wanted)) == expected
            case ("delete", gone):
                assert isinstance(gone, list)
                run_now(cache.delete_many(gone))
                for k in gone:
                    model.pop(k, None)
            case ("prefix", prefix):
                assert isinstance(prefix, str)
                expected_count = sum(k.startswith(prefix) for k in live())
                assert run_now(cache.delete_prefix(prefix)) == expected_count
                model = {k: e for k, e in model.items() if not k.startswith(prefix)}
            case ("advance", seconds):
                clock.advance(seconds)  # type: ignore[arg-type]
            case ("clear",):
                run_now(cache.clear())
                model.clear()
    assert len(cache) == len(live())


@settings(max_examples=60)
@given(st.lists(st.tuples(st.booleans(), keys, st.integers()), max_size=60))
def test_under_eviction_a_read_never_returns_a_wrong_value(ops: list[tuple[bool, str, int]]) -> None:
    cache = MemoryCache(max_size=3, ttl_s=None)
    written: dict[str, int] = {}
    for is_write, key, value in ops:
        if is_write:
            run_now(cache.set_many({key: value}))
            written[key] = value
        else:
            got = run_now(cache.get_many([key]))
            assert got in ({}, {key: written.get(key)})
            assert key in written or got == {}
        assert len(cache) <= 3
    stats = cache.stats
    assert stats.sets == sum(1 for w, _, _ in ops if w)
    assert stats.evictions >= len(written) - 3


@pytest.mark.parametrize("ttl_s", [2, 3, 4, 5])
async def test_a_key_expiring_in_the_middle_of_a_read_is_a_miss_not_an_error(ttl_s: float) -> None:
    ticks = iter(range(10**6))
    cache = MemoryCache(max_size=10, ttl_s=ttl_s, timer=lambda: float(next(ticks)))  # time moves at every reading
    await cache.set_many({"a": 1})
    results = [await cache.get_many(["a"]) for _ in range(10)]
    assert {"a": 1} in results
    assert results[-1] == {}
