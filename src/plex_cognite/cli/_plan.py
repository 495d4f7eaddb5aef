"""What the first `run` will ask of Plex: windows per windowed stream, calls, and time at the configured rate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from plex_cognite.cli._progress import format_seconds

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings

__all__ = ["FirstRunPlan", "plan_first_run"]

#: Streams read in time windows (one Plex history call per window at least).
WINDOWED_STREAMS = ("production", "scrap", "workcenter_status", "container_moves")
#: At least one list call each per PCN: buildings, workcenters, parts (master data); jobs; buildings, locations,
#: containers (inventory); buildings, locations (container_moves, to link destinations).
_LIST_CALLS = {"master_data": 3, "jobs": 1, "inventory": 3, "container_moves": 2}


@dataclass(frozen=True, slots=True)
class FirstRunPlan:
    """The least work a first run (no state yet) needs.

    Attributes:
        start: History start.
        end: History end (the configured end, or now).
        windows: Windows per windowed stream and PCN.
        windowed_streams: The configured windowed streams.
        pcns: Number of PCNs.
        calls: Plex calls at least (one per window and stream, one per list; more where pages or splits follow).
        rate_per_minute: `plex.rate_limit_per_minute`.
    """

    start: datetime
    end: datetime
    windows: int
    windowed_streams: tuple[str, ...]
    pcns: int
    calls: int
    rate_per_minute: int

    @property
    def minutes(self) -> float:
        """The least duration at the configured rate, in minutes."""
        return self.calls / self.rate_per_minute

    def lines(self, window_text: str) -> list[str]:
        """The plan as lines for the terminal."""
        span = f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"
        lines = [f"plan: history {span} in windows of {window_text}"]
        for stream in self.windowed_streams:
            lines.append(f"plan:   {stream}: {self.windows} window(s) per PCN x {self.pcns} PCN(s)")
        duration = _duration(self.minutes * 60)
        lines.append(
            f"plan: the first run needs at least {self.calls} Plex call(s); at {self.rate_per_minute} calls/min "
            f"(plex.rate_limit_per_minute) that is at least {duration}"
        )
        return lines


def _duration(seconds: float) -> str:
    return format_seconds(max(1.0, seconds))


def plan_first_run(settings: ExtractorSettings, *, now: datetime | None = None) -> FirstRunPlan:
    """The windows and Plex calls of a first run of `settings`, at the least (pages and window splits add more)."""
    extraction = settings.extraction
    end = extraction.end or (now or datetime.now(UTC))
    windows = max(0, math.ceil((end - extraction.start) / extraction.window))
    windowed = tuple(s for s in extraction.streams if s in WINDOWED_STREAMS)
    pcns = len(settings.plex.pcns)
    per_pcn = sum(_LIST_CALLS.get(s, 0) for s in extraction.streams) + windows * len(windowed)
    return FirstRunPlan(
        start=extraction.start,
        end=end,
        windows=windows,
        windowed_streams=windowed,
        pcns=pcns,
        calls=per_pcn * pcns,
        rate_per_minute=settings.plex.rate_limit_per_minute,
    )
