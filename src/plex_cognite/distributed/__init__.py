"""Scale-out: plan a history backfill as serialisable work units, run them on any `concurrent.futures.Executor`.

See `plex_cognite.distributed.backfill` for how units are planned, run and recorded.
"""

from plex_cognite.distributed.backfill import (
    DEFAULT_UNIT_WINDOW,
    SNAPSHOT_STREAMS,
    WINDOWED_STREAMS,
    BackfillReport,
    UnitResult,
    UnitStatus,
    WorkUnit,
    plan_backfill,
    run_backfill,
    run_unit,
)

__all__ = [
    "DEFAULT_UNIT_WINDOW",
    "SNAPSHOT_STREAMS",
    "WINDOWED_STREAMS",
    "BackfillReport",
    "UnitResult",
    "UnitStatus",
    "WorkUnit",
    "plan_backfill",
    "run_backfill",
    "run_unit",
]
