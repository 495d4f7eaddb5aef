"""The memory tuning a run applies (`extraction.tune_memory`): the collector is as it was afterwards."""

from __future__ import annotations

import gc
import platform
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator

import pytest

from plex_cognite._memory import YOUNG_THRESHOLD, collector_tuned


@pytest.fixture(autouse=True)
def _restore_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_a_run_collects_less_often_and_skips_older_objects_then_restores_both() -> None:
    gc.set_threshold(700, 10, 10)
    with collector_tuned():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_disabled_tuning_changes_nothing() -> None:
    gc.set_threshold(700, 10, 10)
    with collector_tuned(enabled=False):
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.get_freeze_count() == 0


def test_concurrent_runs_restore_when_the_last_one_ends() -> None:
    gc.set_threshold(900, 5, 5)
    entered, leave_second = threading.Event(), threading.Event()

    def second_run() -> None:
        with collector_tuned():
            entered.set()
            leave_second.wait(5)

    worker = threading.Thread(target=second_run)
    with collector_tuned():
        worker.start()
        assert entered.wait(5)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 5, 5)  # the second run is still going
    leave_second.set()
    worker.join(5)
    assert gc.get_threshold() == (900, 5, 5)
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_them_frozen() -> None:
    gc.freeze()
    with collector_tuned():
        pass
    assert gc.get_freeze_count() > 0  # not unfrozen (the count itself drops as frozen objects die)


def test_collection_turned_off_by_threshold_zero_stays_off() -> None:
    gc.set_threshold(0, 10, 10)
    with collector_tuned():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold() == (0, 10, 10)


def test_a_higher_threshold_of_the_process_is_kept() -> None:
    gc.set_threshold(YOUNG_THRESHOLD * 2, 10, 10)
    with collector_tuned():
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD * 2


_FREED_BUFFERS = """
import os, sys

def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

if sys.argv[1] == "fixed":
    from plex_cognite._memory import fix_mmap_threshold
    assert fix_mmap_threshold()
first = bytearray(8 * 2**20)  # one big buffer freed: glibc's dynamic threshold moves past 2 MiB
del first
before = rss()
big, small = [], []
for _ in range(20):
    big.append(bytearray(2 * 2**20))
    small.append(bytearray(100))  # small objects between the big ones pin the heap
for buffer in big:
    buffer[::4096] = b"x" * len(buffer[::4096])
del buffer
big.clear()
print(rss() - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the mmap threshold is a glibc setting")
def test_freed_big_buffers_leave_the_process_with_the_threshold_fixed() -> None:
    def retained(mode: str) -> float:
        done = subprocess.run([sys.executable, "-c", _FREED_BUFFERS, mode], capture_output=True, text=True, check=True)
        return float(done.stdout)

    assert retained("dynamic") >= 4  # glibc keeps freed 2 MiB buffers resident in its heap...
    assert retained("fixed") < 1  # ...unless the threshold is fixed: then they are unmapped when freed


_FREED_BLOCKS = """
import os, sys

from plex_cognite._memory import collector_tuned

def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

with collector_tuned(enabled=sys.argv[1] == "tuned"):
    blocks = [bytes(1000) for _ in range(64_000)]  # about 64 MiB of heap blocks (over pymalloc's 512 bytes)
    kept = blocks[::16]  # the few that outlive the run pin the heap: it cannot shrink from its top
    del blocks
    during = rss()
print(during - rss())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is a glibc function")
def test_the_heap_pages_a_run_freed_leave_the_process_when_it_ends() -> None:
    def released(mode: str) -> float:
        done = subprocess.run([sys.executable, "-c", _FREED_BLOCKS, mode], capture_output=True, text=True, check=True)
        return float(done.stdout)

    assert released("tuned") >= 20  # measured: about 45 MiB of the 60 freed
    assert released("untuned") < 5  # glibc alone keeps them resident behind the survivors


def test_garbage_from_before_a_run_is_not_frozen_with_the_live_objects() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the cyclic collector frees it

    gc.disable()  # only the run's own collection may free it
    try:
        probe = weakref.ref(Node())  # the Node itself is garbage at once
        with collector_tuned():
            assert probe() is None
    finally:
        gc.enable()
