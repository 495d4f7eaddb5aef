"""A compact map of external id -> content digest: the change-detection state of one stream.

A `dict[str, bytes]` costs about 185 bytes an entry at Plex's 50-character external ids: the key string, the digest
bytes and the dict slot are three small objects, allocated all through a run, and they pin the small-object heap's
arenas long after the run's transient objects are gone. `DigestTable` keeps the same map in a few large buffers:

- the ids' UTF-8 back to back in one `bytearray`, with their boundaries in an `array("Q")`;
- the digests in one `bytearray`, `width` bytes an entry (a digest of another length is kept aside);
- each id's `hash()` in an `array("q")`, and an open-addressing index (linear probing) of 4-byte entry numbers;
- a byte an entry that says whether it was set since `mark_clean()` (what a state store writes on its next commit:
  a set of the changed ids would hold every id of a first run again, as strings, until the stream commits).

That is about the id's length plus 40 bytes an entry (about 90 at Plex's ids). Lookups cost a few microseconds
(Python code instead of the dict's C, `benchmarks/bench_state.py` measures both); a run does two per item, next to
the tens of microseconds it spends on the item elsewhere. Removed entries stay in the buffers until they are half of
them, then the table is rebuilt.

`hash()` of a string differs between processes, so the table pickles as its buffers and rebuilds its index on
unpickling.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["DIGEST_SIZE", "DigestTable"]

#: The default digest length stored inline (that of `content_hash` digests); others are kept in a side dict.
DIGEST_SIZE = 8

_EMPTY = -1  # an index slot never used
_DUMMY = -2  # an index slot whose entry was removed (probing goes on past it)
_MIN_SLOTS = 8
_BLOCK = 4096  # entries decoded at a time by `items()`


def _hash(external_id: str) -> int:
    """The index hash of an id (a module function so tests can force collisions)."""
    return hash(external_id)


class DigestTable:
    """A mutable map of external id (str) -> digest (bytes), compact in memory.

    Args:
        items: Initial `(external_id, digest)` pairs (a later pair for the same id wins).
        width: The digest length stored inline; digests of another length take a side dict's slot instead.
    """

    __slots__ = ("_bounds", "_digests", "_dirty", "_filled", "_gone", "_hashes", "_ids", "_index", "_odd", "_width")

    def __init__(self, items: Iterable[tuple[str, bytes]] = (), *, width: int = DIGEST_SIZE) -> None:
        self._width = width
        self._reset()
        for external_id, digest in items:
            self.set(external_id, digest)

    @classmethod
    def from_distinct(cls, items: Iterable[tuple[str, bytes]], *, width: int = DIGEST_SIZE) -> DigestTable:
        """A clean table of pairs whose ids are known to be distinct (a mapping's items), indexed once at the end.

        About twice as fast as inserting them one by one (no lookup per pair). Ids that repeat would leave
        unreachable duplicates: use the constructor for anything but a mapping's items.
        """
        table = cls(width=width)
        for external_id, digest in items:
            table._append(external_id.encode("utf-8"), _hash(external_id), digest)
        table._rebuild()
        return table

    def _reset(self) -> None:
        self._ids = bytearray()  # the ids' UTF-8, back to back
        self._bounds = array("Q", [0])  # entry j's id is _ids[_bounds[j]:_bounds[j + 1]]
        self._hashes = array("q")  # _hash(id) of entry j
        self._digests = bytearray()  # entry j's digest: `_width` bytes at `_width * j`
        self._dirty = bytearray()  # entry j was set since `mark_clean()` when byte j is 1
        self._odd: dict[int, bytes] = {}  # digests of another length, by entry
        self._gone: set[int] = set()  # removed entries (their index slots are dummies)
        self._index = array("i", [_EMPTY]) * _MIN_SLOTS
        self._filled = 0  # index slots that are not empty (entries and dummies)

    # -- lookups ---------------------------------------------------------------------------------------------------

    def _find(self, key: bytes, h: int) -> tuple[int, int]:
        """`(entry, slot)` of `key`, or `(-1, slot to insert it at)`."""
        index = self._index
        mask = len(index) - 1
        slot = h & mask
        free = -1
        while True:
            entry = index[slot]
            if entry >= 0:
                if self._hashes[entry] == h:
                    bounds = self._bounds
                    start = bounds[entry]
                    if bounds[entry + 1] - start == len(key) and self._ids.startswith(key, start):
                        return entry, slot
            elif entry == _EMPTY:
                return -1, (slot if free < 0 else free)
            elif free < 0:
                free = slot
            slot = (slot + 1) & mask

    def _digest(self, entry: int) -> bytes:
        if self._odd and entry in self._odd:
            return self._odd[entry]
        start = self._width * entry
        return bytes(self._digests[start : start + self._width])

    def get(self, external_id: str) -> bytes | None:
        """The digest of `external_id`, or None."""
        entry, _ = self._find(external_id.encode("utf-8"), _hash(external_id))
        return None if entry < 0 else self._digest(entry)

    def matches(self, external_id: str, digest: bytes) -> bool:
        """True when `external_id` has exactly this digest."""
        entry, _ = self._find(external_id.encode("utf-8"), _hash(external_id))
        return entry >= 0 and self._digest(entry) == digest

    def __contains__(self, external_id: object) -> bool:
        return isinstance(external_id, str) and self.get(external_id) is not None

    def __len__(self) -> int:
        return len(self._hashes) - len(self._gone)

    def items(self) -> Iterator[tuple[str, bytes]]:
        """`(external_id, digest)` pairs in insertion order (do not change the table while iterating).

        Entries are decoded a block at a time (one `decode` and one digest copy per `_BLOCK` entries), which keeps a
        full iteration within a few times a dict's.
        """
        width, gone, odd = self._width, self._gone, self._odd
        count = len(self._hashes)
        for first in range(0, count, _BLOCK):
            last = min(count, first + _BLOCK)
            bounds = self._bounds[first : last + 1].tolist()
            base = bounds[0]
            raw = bytes(self._ids[base : bounds[-1]])
            text = raw.decode("utf-8")
            same_offsets = len(text) == len(raw)  # ASCII: character offsets are byte offsets
            digests = bytes(self._digests[width * first : width * last])
            for offset, (start, end) in enumerate(itertools.pairwise(bounds)):
                entry = first + offset
                if gone and entry in gone:
                    continue
                start, end = start - base, end - base
                external_id = text[start:end] if same_offsets else raw[start:end].decode("utf-8")
                if odd and entry in odd:
                    yield external_id, odd[entry]
                else:
                    yield external_id, digests[width * offset : width * offset + width]

    def __iter__(self) -> Iterator[str]:
        return (external_id for external_id, _ in self.items())

    def __eq__(self, other: object) -> bool:
        """Equal to another table, or to any mapping, with the same pairs."""
        if isinstance(other, DigestTable):
            return len(self) == len(other) and all(other.matches(xid, digest) for xid, digest in self.items())
        if hasattr(other, "items") and hasattr(other, "__len__"):
            return len(self) == len(other) and dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"DigestTable(<{len(self)} entries>)"

    # -- changes ---------------------------------------------------------------------------------------------------

    def set(self, external_id: str, digest: bytes) -> bool:
        """Map `external_id` to `digest`; True when that changed the table."""
        key = external_id.encode("utf-8")
        h = _hash(external_id)
        entry, slot = self._find(key, h)
        if entry >= 0:
            if self._digest(entry) == digest:
                return False
            self._store(entry, digest)
            self._dirty[entry] = 1
            return True
        if self._index[slot] == _EMPTY:
            self._filled += 1
        entry = self._index[slot] = self._append(key, h, digest)
        self._dirty[entry] = 1
        if 3 * self._filled >= 2 * len(self._index):
            self._rebuild()
        return True

    def _append(self, key: bytes, h: int, digest: bytes) -> int:
        """Add an entry to the buffers (not to the index); return its number."""
        entry = len(self._hashes)
        self._ids += key
        self._bounds.append(len(self._ids))
        self._hashes.append(h)
        self._digests += bytes(self._width)
        self._dirty.append(0)
        self._store(entry, digest)
        return entry

    def _store(self, entry: int, digest: bytes) -> None:
        if len(digest) == self._width:
            start = self._width * entry
            self._digests[start : start + self._width] = digest
            self._odd.pop(entry, None)
        else:
            self._odd[entry] = bytes(digest)

    def pop(self, external_id: str) -> bool:
        """Remove `external_id`; True when it was there."""
        entry, slot = self._find(external_id.encode("utf-8"), _hash(external_id))
        if entry < 0:
            return False
        self._index[slot] = _DUMMY
        self._gone.add(entry)
        self._dirty[entry] = 0
        self._odd.pop(entry, None)
        if 2 * len(self._gone) > len(self._hashes):
            self._rebuild()
        return True

    def _rebuild(self) -> None:
        """Drop removed entries from the buffers (when they are many) and re-index at a third full."""
        if 2 * len(self._gone) > len(self._hashes):
            gone = self._gone
            rebuilt = DigestTable.from_distinct(self.items(), width=self._width)
            rebuilt._dirty = bytearray(flag for entry, flag in enumerate(self._dirty) if entry not in gone)
            for name in self.__slots__:  # take over the rebuilt buffers
                setattr(self, name, getattr(rebuilt, name))
            return
        slots = _MIN_SLOTS
        while slots < 3 * len(self):
            slots *= 2
        index = array("i", [_EMPTY]) * slots
        mask = slots - 1
        gone = self._gone
        for entry, h in enumerate(self._hashes):
            if gone and entry in gone:
                continue
            slot = h & mask
            while index[slot] != _EMPTY:
                slot = (slot + 1) & mask
            index[slot] = entry
        self._index = index
        self._filled = len(self)

    def changed(self) -> Iterator[tuple[str, bytes]]:
        """`(external_id, digest)` of each entry set since `mark_clean()`, in insertion order.

        Consume it before changing the table.
        """
        dirty, bounds, ids = self._dirty, self._bounds, self._ids
        entry = dirty.find(1)
        while entry >= 0:
            yield ids[bounds[entry] : bounds[entry + 1]].decode("utf-8"), self._digest(entry)
            entry = dirty.find(1, entry + 1)

    def mark_clean(self) -> None:
        """Forget which entries were set (`changed()` is empty until the next `set`)."""
        self._dirty = bytearray(len(self._hashes))

    def copy(self) -> DigestTable:
        """An independent copy (which entries were set since `mark_clean()` included)."""
        clone = DigestTable.__new__(DigestTable)
        clone._ids = bytearray(self._ids)
        clone._bounds = self._bounds[:]
        clone._hashes = self._hashes[:]
        clone._digests = bytearray(self._digests)
        clone._dirty = bytearray(self._dirty)
        clone._odd = dict(self._odd)
        clone._gone = set(self._gone)
        clone._index = self._index[:]
        clone._filled = self._filled
        clone._width = self._width
        return clone

    # -- pickling (`hash()` differs between processes: the index is rebuilt) ------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        parts = (bytes(self._ids), self._bounds, bytes(self._digests), self._odd, self._gone, self._width)
        return (_unpickle, (*parts, bytes(self._dirty)))


def _unpickle(
    ids: bytes,
    bounds: array[int],
    digests: bytes,
    odd: dict[int, bytes],
    gone: set[int],
    width: int,
    dirty: bytes = b"",
) -> DigestTable:
    table = DigestTable(width=width)
    table._ids = bytearray(ids)
    table._bounds = bounds
    table._digests = bytearray(digests)
    # A pickle of a version without the flags (or a damaged one) unpickles clean.
    table._dirty = bytearray(dirty) if len(dirty) == len(bounds) - 1 else bytearray(len(bounds) - 1)
    table._odd = odd
    table._gone = gone
    table._hashes = array("q", (_hash(ids[bounds[j] : bounds[j + 1]].decode("utf-8")) for j in range(len(bounds) - 1)))
    table._rebuild()
    return table
