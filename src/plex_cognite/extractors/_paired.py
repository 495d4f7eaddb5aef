"""The same records written to a classic sink and to the Core Data Model sink, as `cdf.sink` says.

A built-in extractor maps each record once to its classic item and, when nodes are written, to the node describing
that item (`AsyncBaseExtractor.map_pair`), then hands both halves to a `SinkPair`. The pair writes each half to its
sink, or drops the half whose sink `cdf.sink` leaves out. Both halves go through bound sinks, so each keeps its own
change detection, and a history window written through the pair is committed only after both were acknowledged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

from plex_cognite.core.bound_sink import BoundSink
from plex_cognite.typing import KeyedItem, TimeWindow

__all__ = ["PairedItems", "SinkPair"]

ClassicT = TypeVar("ClassicT", bound=KeyedItem)
NodeT = TypeVar("NodeT", bound=KeyedItem)


@dataclass
class PairedItems(Generic[ClassicT, NodeT]):
    """Classic items and the nodes describing the same records.

    Attributes:
        classic: Items for the classic sink.
        nodes: Items for the Core Data Model sink (empty when nodes are not written).
    """

    classic: list[ClassicT] = field(default_factory=list)
    nodes: list[NodeT] = field(default_factory=list)

    @classmethod
    def same(cls, items: Sequence[ClassicT]) -> PairedItems[ClassicT, ClassicT]:
        """The same items for both sinks (datapoints: the series' node external ids are the classic ones)."""
        return PairedItems(list(items), list(items))

    def __iadd__(self, other: PairedItems[ClassicT, NodeT]) -> Self:
        self.classic += other.classic
        self.nodes += other.nodes
        return self


@dataclass(frozen=True)
class SinkPair(Generic[ClassicT, NodeT]):
    """A classic bound sink and its Core Data Model counterpart; either is None when `cdf.sink` leaves it out.

    Get one from `self.sinks.paired(...)`.

    Attributes:
        classic: The classic sink (None with `cdf.sink: datamodeling`).
        nodes: The node sink (None with `cdf.sink: classic`).
    """

    classic: BoundSink[ClassicT] | None
    nodes: BoundSink[NodeT] | None

    async def write(self, items: PairedItems[ClassicT, NodeT], *, window: TimeWindow | None = None) -> None:
        """Write both halves at once and wait until both were acknowledged (see `BoundSink.write`)."""
        async with asyncio.TaskGroup() as group:
            if self.classic is not None and items.classic:
                group.create_task(self.classic.write(items.classic, window=window))
            if self.nodes is not None and items.nodes:
                group.create_task(self.nodes.write(items.nodes, window=window))

    def writes(self, items: PairedItems[ClassicT, NodeT]) -> list[tuple[BoundSink[Any], Sequence[KeyedItem]]]:
        """The (sink, items) writes of both halves (the form `replay_writes` returns)."""
        writes: list[tuple[BoundSink[Any], Sequence[KeyedItem]]] = []
        if self.classic is not None and items.classic:
            writes.append((self.classic, items.classic))
        if self.nodes is not None and items.nodes:
            writes.append((self.nodes, items.nodes))
        return writes

    async def put(self, items: PairedItems[ClassicT, NodeT], *, window: TimeWindow | None = None) -> None:
        """Queue both halves for pipelined writes (see `BoundSink.put`); `window` waits for both."""
        if self.classic is not None and items.classic:
            await self.classic.put(items.classic, window=window)
        if self.nodes is not None and items.nodes:
            await self.nodes.put(items.nodes, window=window)
