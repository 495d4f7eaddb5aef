from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plex_cognite.core.pipeline import AsyncBatchProcessor, CommittedBatch, prefetch
from plex_cognite.core.results import WriteResult


class RecordingSink:
    """A sink that records what it wrote, with per-call delays chosen by the test."""

    def __init__(self, delays: Sequence[float] = (), fail_on: int | None = None) -> None:
        self.delays = list(delays)
        self.fail_on = fail_on
        self.calls = 0
        self.written: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def write(self, items: Sequence[int]) -> WriteResult:
        call = self.calls
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delays[call % len(self.delays)] if self.delays else 0)
            if self.fail_on is not None and call == self.fail_on:
                raise RuntimeError(f"sink failed on call {call}")
            self.written.extend(items)
            return WriteResult(created=[str(i) for i in items], requests=1)
        finally:
            self.in_flight -= 1


async def test_batches_by_size_and_commits_everything_in_order() -> None:
    sink = RecordingSink(delays=[0.003, 0.0, 0.001])
    committed: list[CommittedBatch[int]] = []
    async with AsyncBatchProcessor(sink, on_commit=committed.append, batch_size=10, concurrency=3) as processor:
        for i in range(95):
            await processor.put(i)
    assert [b.seq for b in committed] == list(range(10))
    assert [i for b in committed for i in b.items] == list(range(95))
    assert sorted(sink.written) == list(range(95))
    assert processor.totals.requests == 10


async def test_a_slow_first_batch_holds_back_later_commits() -> None:
    release = asyncio.Event()
    committed: list[int] = []

    async def write(items: Sequence[int]) -> WriteResult:
        if items[0] == 0:
            await release.wait()
        return WriteResult(created=[str(i) for i in items])

    async with AsyncBatchProcessor(
        write, on_commit=lambda b: committed.append(b.seq), batch_size=1, concurrency=4
    ) as p:
        for i in range(4):
            await p.put(i)
        for _ in range(20):
            await asyncio.sleep(0)
        assert committed == []  # batches 1..3 are written but wait for batch 0
        release.set()
    assert committed == [0, 1, 2, 3]


async def test_checkpoint_is_committed_after_the_items_before_it() -> None:
    events: list[object] = []

    def on_commit(batch: CommittedBatch[int]) -> None:
        events.extend(batch.items)
        events.extend(batch.checkpoints)

    sink = RecordingSink(delays=[0.002, 0.0])
    async with AsyncBatchProcessor(sink, on_commit=on_commit, batch_size=3, concurrency=2) as p:
        for i in range(5):
            await p.put(i)
        p.mark("window-a")
        p.mark("window-b")
        await p.put(5)
    assert events.index("window-a") > events.index(4)
    assert events.index("window-b") > events.index("window-a")


async def test_checkpoint_only_batch_needs_no_sink_call() -> None:
    sink = RecordingSink()
    seen: list[object] = []
    async with AsyncBatchProcessor(sink, on_commit=lambda b: seen.extend(b.checkpoints)) as p:
        p.mark("empty window")
    assert seen == ["empty window"]
    assert sink.calls == 0


async def test_age_seals_a_partial_batch() -> None:
    sink = RecordingSink()
    async with AsyncBatchProcessor(sink, batch_size=1000, max_batch_age_s=0.02) as p:
        await p.put(1)
        await asyncio.sleep(0.1)
        assert sink.written == [1]
        await p.put(2)
    assert sink.written == [1, 2]


async def test_backpressure_bounds_outstanding_batches() -> None:
    sink = RecordingSink(delays=[0.002])
    outstanding: list[int] = []

    async with AsyncBatchProcessor(sink, batch_size=5, concurrency=2, max_pending=3) as p:
        for i in range(200):
            await p.put(i)
            outstanding.append(p._next_seq - p.committed_seq)  # sealed, not yet committed
    assert max(outstanding) <= 3
    assert sink.max_in_flight <= 2


async def test_sink_failure_commits_only_the_contiguous_prefix() -> None:
    sink = RecordingSink(delays=[0.0], fail_on=3)
    committed: list[int] = []

    async def produce() -> None:
        async with AsyncBatchProcessor(sink, on_commit=lambda b: committed.append(b.seq), batch_size=2) as p:
            for i in range(40):
                await p.put(i)

    with pytest.raises(RuntimeError, match="call 3"):
        await produce()
    assert committed == list(range(len(committed)))
    assert 3 not in committed


async def test_exception_in_producer_abandons_uncommitted_batches() -> None:
    release = asyncio.Event()
    committed: list[int] = []

    async def write(items: Sequence[int]) -> WriteResult:
        await release.wait()
        return WriteResult(created=[str(i) for i in items])

    async def produce() -> None:
        async with AsyncBatchProcessor(write, on_commit=lambda b: committed.append(b.seq), batch_size=1) as p:
            await p.put(1)
            await p.put(2)
            raise KeyError("producer failed")

    with pytest.raises(KeyError):
        await produce()
    assert committed == []


async def test_cancellation_commits_nothing_in_flight() -> None:
    started = asyncio.Event()
    committed: list[int] = []

    async def write(items: Sequence[int]) -> WriteResult:
        started.set()
        await asyncio.sleep(10)
        return WriteResult()

    async def run() -> None:
        async with AsyncBatchProcessor(write, on_commit=lambda b: committed.append(b.seq), batch_size=1) as p:
            await p.put(1)
            await asyncio.sleep(10)

    task = asyncio.create_task(run())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert committed == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    delays=st.lists(st.sampled_from([0.0, 0.0005, 0.001, 0.003]), min_size=1, max_size=8),
    n_items=st.integers(0, 60),
    batch_size=st.integers(1, 7),
    concurrency=st.integers(1, 5),
    marks=st.sets(st.integers(0, 60), max_size=6),
    fail_on=st.none() | st.integers(0, 10),
)
def test_commit_order_property(
    delays: list[float], n_items: int, batch_size: int, concurrency: int, marks: set[int], fail_on: int | None
) -> None:
    """Commits are contiguous from 0, in order; a checkpoint is committed only after every item put before it."""

    async def scenario() -> tuple[list[CommittedBatch[int]], set[int], BaseException | None]:
        sink = RecordingSink(delays=delays, fail_on=fail_on)
        committed: list[CommittedBatch[int]] = []
        error: BaseException | None = None
        try:
            async with AsyncBatchProcessor(
                sink, on_commit=committed.append, batch_size=batch_size, concurrency=concurrency
            ) as p:
                for i in range(n_items):
                    if i in marks:
                        p.mark(("before", i))
                    await p.put(i)
        except RuntimeError as exc:
            error = exc
        return committed, set(sink.written), error

    committed, written, error = asyncio.run(scenario())
    assert [b.seq for b in committed] == list(range(len(committed)))
    acked: set[int] = set()
    for batch in committed:
        acked.update(batch.items)
        assert set(batch.items) <= written
        for token in batch.checkpoints:
            assert isinstance(token, tuple)
            assert set(range(token[1])) <= acked
    if error is None:
        assert acked == set(range(n_items))


async def test_prefetch_reads_ahead_and_reraises() -> None:
    async def numbers() -> object:
        for i in range(5):
            yield i
        raise ValueError("source broke")

    got: list[int] = []

    async def consume() -> None:
        async for n in prefetch(numbers(), maxsize=2):  # type: ignore[arg-type]
            got.append(n)

    with pytest.raises(ValueError, match="source broke"):
        await consume()
    assert got == [0, 1, 2, 3, 4]


async def test_batches_are_cut_by_weight() -> None:
    sizes: list[int] = []

    async def write(items: Sequence[int]) -> WriteResult:
        sizes.append(sum(items))
        return WriteResult()

    async with AsyncBatchProcessor(write, batch_size=1000, weigh=lambda n: n, max_batch_weight=100) as p:
        for n in [40, 40, 40, 100, 30, 80]:
            await p.put(n)
    assert sizes == [80, 40, 100, 30, 80]


class PreparedSink(RecordingSink):
    """Also prepares: notes which batches were prepared while a write was in flight; fails to prepare `bad`."""

    def __init__(self, delays: Sequence[float] = (), bad: int | None = None) -> None:
        super().__init__(delays)
        self.bad = bad
        self.prepared: list[list[int]] = []
        self.prepared_during_a_write = 0

    async def prepare(self, items: Sequence[int]) -> None:
        if self.in_flight:
            self.prepared_during_a_write += 1
        await asyncio.sleep(0)
        if self.bad is not None and self.bad in items:
            raise RuntimeError("lookup failed")
        self.prepared.append(list(items))


async def test_a_preparing_sink_prepares_each_batch_when_sealed_before_it_is_written() -> None:
    sink = PreparedSink(delays=[0.01], bad=25)
    async with AsyncBatchProcessor(sink, batch_size=10, concurrency=1) as processor:
        for i in range(40):
            await processor.put(i)
    # The batch with 25 failed to prepare: it is written all the same (the write meets any error itself).
    assert sink.prepared == [list(range(10)), list(range(10, 20)), list(range(30, 40))]
    assert sorted(sink.written) == list(range(40))
    assert sink.prepared_during_a_write >= 1  # a batch waiting for the one writer was prepared meanwhile


async def test_prepare_can_be_given_for_a_plain_write_function() -> None:
    prepared: list[list[int]] = []
    written: list[list[int]] = []

    async def prepare(items: Sequence[int]) -> None:
        prepared.append(list(items))

    async def write(items: Sequence[int]) -> WriteResult:
        assert list(items) in prepared  # prepared before written
        written.append(list(items))
        return WriteResult(requests=1)

    async with AsyncBatchProcessor(write, batch_size=3, prepare=prepare) as processor:
        await processor.put_many(range(7))
    assert sorted(written) == prepared == [[0, 1, 2], [3, 4, 5], [6]]
