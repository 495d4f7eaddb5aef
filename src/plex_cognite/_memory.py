"""Memory-manager tuning for the length of an extraction run: the garbage collector and, on glibc, big buffers.

**Garbage collector.**
A run allocates a few container objects per Plex row (a record, its `__dict__`, its field set) and keeps long-lived
ones (content hashes, the asset-id map, the imported SDKs). With CPython's default thresholds (700, 10, 10) that
means thousands of young-generation collections and dozens of full ones, each walking every tracked object in the
process: measured on a 100k-jobs plant, about a fifth of the extractor's CPU. Hardly any of it is garbage in a
cycle (the run's data is acyclic; the cycles are in HTTP response objects and retry state, a few per request).

`collector_tuned()` raises the young-generation threshold to `YOUNG_THRESHOLD` and, after one full collection (so no
garbage is frozen with them), freezes (`gc.freeze`) the objects that exist when the first run starts, so collections
skip the imported modules and the embedding application's own objects. Both are undone when the last concurrent run
ends: the thresholds come back as they were and the frozen objects are unfrozen, unless the process had frozen
objects of its own before (a pre-fork server), in which case freezing is left to it entirely.

**Big buffers (glibc only).** A run allocates and frees buffers of a few MiB (Plex window bodies, CDF request
bodies). glibc serves such sizes with `mmap` and returns them on free, but the first such free raises its mmap
threshold to that size ("dynamic mmap threshold"), so from then on every buffer up to it is carved from the heap and
freed memory stays resident: measured on the 100k-jobs plant, about 40 MiB of peak RSS. `collector_tuned()` fixes the
threshold at glibc's own initial value (128 KiB) with `mallopt`, which turns the dynamic adjustment off. This one
is not undone (glibc cannot turn the adjustment back on), and it changes nothing but where big buffers live.

**Free heap pages (glibc only).** Smaller blocks (a few hundred bytes to 128 KiB: lists, sets, HTTP chunks) come
from glibc's heap, which returns memory only from its top: a run's freed blocks stay resident behind the few that
outlive it. When the last concurrent run ends, `collector_tuned()` hands the heap's free pages back with
`malloc_trim(0)` (`release_free_memory()`), so a continuous extractor does not sit between passes on its busiest
moment's memory: on the 100k-jobs plant, about 25 MiB less RSS between passes.

Elsewhere (musl, macOS, Windows) nothing is done.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import platform
import threading
from collections.abc import Iterator

__all__ = ["MMAP_THRESHOLD", "YOUNG_THRESHOLD", "collector_tuned", "fix_mmap_threshold", "release_free_memory"]

#: Buffers at least this big are mmapped (and unmapped when freed) on glibc during and after a run.
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # <malloc.h>

#: The young-generation threshold during a run (CPython's default is 700 net container allocations).
YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
_active = 0
_saved_thresholds: tuple[int, ...] = ()
_froze = False


@contextlib.contextmanager
def collector_tuned(enabled: bool = True) -> Iterator[None]:
    """Collect garbage less often while the block runs, and keep big buffers out of the heap (no-op if not `enabled`).

    Re-entrant and safe for concurrent runs in one process (threads or tasks): the first run to enter tunes the
    collector and the last one to leave restores it and hands the heap's free pages back (`release_free_memory`).
    """
    if not enabled:
        yield
        return
    global _active, _saved_thresholds, _froze
    fix_mmap_threshold()
    with _lock:
        if _active == 0:
            _saved_thresholds = gc.get_threshold()
            young, *older = _saved_thresholds
            if young != 0:  # 0: the process turned automatic collection off; leave it off
                gc.set_threshold(max(YOUNG_THRESHOLD, young), *older)
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.collect()  # frozen garbage would outlive the run (a previous pass's cycles, in continuous mode)
                gc.freeze()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved_thresholds)
                if _froze:
                    gc.unfreeze()
                _froze = False
                release_free_memory()


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (the only one whose allocator is tuned here), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


@functools.cache
def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at `MMAP_THRESHOLD` (once per process); True where that was done."""
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def release_free_memory() -> bool:
    """Hand glibc's free heap pages back to the system (`malloc_trim(0)`); True where that was possible.

    Takes a few milliseconds on a heap of some hundred MiB; nothing else is changed.
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
