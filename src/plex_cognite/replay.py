"""The dead-letter queue from Python: read it, and replay it through the current mapping.

```python
letters = await read_dead_letters(settings, stream="jobs")
report = await replay_dead_letters(settings, extractors=[partial(JobsExtractor, transform=fixed_job_event)])
print(report.format_table())
```

A replay rebuilds each letter's record from its payload, maps it with the extractor's current transform (the one
you fixed, or your own), and writes what now passes, with the same linking, deferral and change detection as a run.
Letters that were written are removed from the store; letters that still fail stay, with their new reason; letters
the extractor cannot replay from a payload (quantities summed per window, items CDF itself refused) stay, with why.
Replaying the same queue again with the same mapping writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plex_cognite.core.extractor import BaseExtractor
from plex_cognite.core.report import ReplayOutcome
from plex_cognite.core.sync import run_sync
from plex_cognite.extractors.registry import ExtractorFactory, load_extractor
from plex_cognite.extractors.resources import build_dead_letter_store, context_for, open_resources
from plex_cognite.observability.logs import get_logger
from plex_cognite.typing import DeadLetter

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

    from plex_cognite.config import ExtractorSettings
    from plex_cognite.core.deadletters import DeadLetterStore

__all__ = [
    "ReplayReport",
    "purge_dead_letters",
    "read_dead_letters",
    "replay_dead_letters",
    "replay_dead_letters_sync",
]

_log = get_logger(__name__)


@dataclass
class ReplayReport:
    """What a replay did, per PCN and stream.

    Attributes:
        outcomes: One per (PCN, extractor) that had letters.
        removed: Letters removed from the store (their records are in CDF now).
        unclaimed: Letters no configured extractor handles (kept).
    """

    outcomes: list[ReplayOutcome] = field(default_factory=list)
    removed: int = 0
    unclaimed: list[DeadLetter] = field(default_factory=list)

    @property
    def replayed(self) -> int:
        """Letters written."""
        return sum(len(o.replayed) for o in self.outcomes)

    @property
    def still_failing(self) -> int:
        """Letters whose records still fail."""
        return sum(len(o.still_failing) for o in self.outcomes)

    @property
    def unsupported(self) -> int:
        """Letters that cannot be replayed from their payload, plus unclaimed ones."""
        return sum(len(o.unsupported) for o in self.outcomes) + len(self.unclaimed)

    @property
    def written(self) -> int:
        """CDF objects created or updated by the replay."""
        return sum(o.report.written for o in self.outcomes)

    @property
    def requests(self) -> int:
        """CDF write requests the replay made."""
        return sum(o.report.requests for o in self.outcomes)

    def format_table(self) -> str:
        """One line per (PCN, stream), then the totals and the reasons letters were kept."""
        header = f"{'pcn':<10} {'stream':<18} {'replayed':>9} {'failing':>9} {'kept':>9} {'written':>9} {'requests':>9}"
        lines = [header, "-" * len(header)]
        for o in self.outcomes:
            lines.append(
                f"{o.pcn:<10} {o.stream:<18} {len(o.replayed):>9} {len(o.still_failing):>9} "
                f"{len(o.unsupported):>9} {o.report.written:>9} {o.report.requests:>9}"
            )
        lines.append("-" * len(header))
        lines.append(f"removed from the queue: {self.removed}; still failing: {self.still_failing}")
        reasons = {why for o in self.outcomes for _, why in o.unsupported}
        reasons |= {f"no configured stream handles {letter.stream!r}" for letter in self.unclaimed}
        lines.extend(f"kept: {why}" for why in sorted(reasons))
        return "\n".join(lines)


async def read_dead_letters(
    settings: ExtractorSettings,
    *,
    pcn: str | None = None,
    stream: str | None = None,
    since: datetime | None = None,
    cognite_client: AsyncCogniteClient | None = None,
) -> list[DeadLetter]:
    """The letters in the store `settings.dead_letters` describes, oldest first, optionally filtered."""
    store, close = _store(settings, cognite_client)
    try:
        return await store.read(pcn=pcn, stream=stream, since=since)
    finally:
        await close()


async def purge_dead_letters(
    settings: ExtractorSettings,
    *,
    pcn: str | None = None,
    stream: str | None = None,
    since: datetime | None = None,
    cognite_client: AsyncCogniteClient | None = None,
) -> int:
    """Delete the letters that match the filters (all of them without filters); return how many were deleted.

    For letters whose records you decided not to load (fixed in Plex and re-read, or not wanted in CDF).
    """
    store, close = _store(settings, cognite_client)
    try:
        letters = await store.read(pcn=pcn, stream=stream, since=since)
        return await store.remove([letter.key for letter in letters])
    finally:
        await close()


def _store(settings: ExtractorSettings, cognite_client: AsyncCogniteClient | None) -> tuple[DeadLetterStore, Any]:
    cdf = cognite_client
    if cdf is None and settings.dead_letters.backend == "raw":
        from plex_cognite.cdf.client import build_async_cognite_client

        cdf = build_async_cognite_client(settings.cdf)
    store = build_dead_letter_store(settings, cdf)
    return store, store.close


async def replay_dead_letters(
    settings: ExtractorSettings,
    *,
    streams: Sequence[str] | None = None,
    since: datetime | None = None,
    extractors: Sequence[ExtractorFactory] | None = None,
    cognite_client: AsyncCogniteClient | None = None,
) -> ReplayReport:
    """Replay the dead-letter queue through the current mapping (see the module docstring).

    Args:
        settings: Validated settings.
        streams: Only letters of these streams (a letter's own stream, or its extractor's).
        since: Only letters rejected at or after this moment.
        extractors: The extractors whose mapping replays the letters (default: those of `extraction.streams`); pass
            yours, or a built-in with a fixed transform (`partial(JobsExtractor, transform=...)`).
        cognite_client: An `AsyncCogniteClient` to use instead of one built from `settings.cdf`.

    Returns:
        What was replayed, what still fails, what was kept and why.
    """
    factories = list(extractors) if extractors is not None else [load_extractor(n) for n in settings.extraction.streams]
    report = ReplayReport()
    async with open_resources(settings, cognite_client=cognite_client) as resources:
        store = resources.dead_letters
        letters = await store.read(since=since)
        for pcn in settings.plex.pcns:
            built = sorted(
                (factory(context_for(resources, pcn), resources) for factory in factories),
                key=lambda extractor: extractor.needs_assets,  # assets first: replayed events may link to them
            )
            await _replay_pcn(built, [letter for letter in letters if letter.pcn == pcn], streams, report)
        report.removed = await store.remove([letter.key for o in report.outcomes for letter in o.replayed])
        for outcome in report.outcomes:
            for letter in outcome.still_failing:
                store.add(letter)  # same key: the stored letter takes its new reason
        await store.flush()
    _log.info(
        "dead letters replayed",
        replayed=report.replayed,
        removed=report.removed,
        still_failing=report.still_failing,
        kept=report.unsupported,
    )
    return report


async def _replay_pcn(
    extractors: Sequence[BaseExtractor],
    letters: Sequence[DeadLetter],
    streams: Sequence[str] | None,
    report: ReplayReport,
) -> None:
    owner: dict[str, BaseExtractor] = {}
    for extractor in extractors:
        for name in extractor.dead_letter_streams():
            owner.setdefault(name, extractor)
    claimed: dict[BaseExtractor, list[DeadLetter]] = defaultdict(list)
    for letter in letters:
        handler = owner.get(letter.stream)
        wanted = streams is None or letter.stream in streams or (handler is not None and handler.stream in streams)
        if not wanted:
            continue
        if handler is None:
            report.unclaimed.append(letter)
        else:
            claimed[handler].append(letter)
    for extractor in extractors:
        if claimed.get(extractor):
            report.outcomes.append(await extractor.replay(claimed[extractor]))


def replay_dead_letters_sync(settings: ExtractorSettings, **kwargs: Any) -> ReplayReport:
    """`replay_dead_letters` for scripts and notebooks."""
    return run_sync(lambda: replay_dead_letters(settings, **kwargs))
