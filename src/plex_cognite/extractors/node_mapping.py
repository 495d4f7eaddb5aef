"""Pure mappings from typed Plex records to Core Data Model node items (see `docs/datamodeling.md`).

Node external ids are the classic external ids (`plex_cognite.cdf.ids`), and names and descriptions come from the
classic transforms, so the classic and the data-modeling sink describe the same plant the same way and can run side
by side. Rules:

- plant, building, workcenter, parts catalog, part: `AssetNode` with the classic name and description, `parent` the
  classic parent, `sourceId` the Plex key (the PCN for the plant; none for the parts catalog).
- job: `ActivityNode`, name the job number (the job id when it has none), description as the classic job event,
  `startTime` `earliestStartDateTime` else `createdDate`, `endTime` `completedDate` (open jobs have none),
  `scheduledStartTime` `earliestStartDateTime`, `scheduledEndTime` `dueDate`, `assets` the part and (when known)
  the building, `sourceId` the job id.
- production / scrap: `TimeSeriesNode` per workcenter, the classic name and description, `type` numeric,
  `isStep` false, `assets` the workcenter, `sourceId` the workcenter id.
- every node: `source` the `CogniteSourceSystem` node `plex` (`plex_source_system`), `sourceContext` `PCN {pcn}`.

Times are ISO 8601 UTC with milliseconds (`2025-01-02T03:04:05.000+00:00`), floored to the millisecond as the
classic sink's epoch milliseconds are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from plex_cognite.cdf.datamodeling.items import (
    DEFAULT_INSTANCE_SPACE,
    PLEX_SOURCE_SYSTEM,
    ActivityNode,
    AssetNode,
    SourceSystemNode,
    TimeSeriesNode,
)
from plex_cognite.cdf.ids import DEFAULT_ID_SCHEME, ExternalIdScheme
from plex_cognite.cdf.items import AssetItem, TimeSeriesItem
from plex_cognite.extractors._transforms import (
    MappingContext,
    building_asset,
    epoch_ms,
    job_event,
    part_asset,
    parts_catalog_asset,
    plant_asset,
    production_series,
    scrap_series,
    workcenter_asset,
)
from plex_cognite.plex.models import Building, Job, Part, Workcenter
from plex_cognite.typing import Pcn

__all__ = [
    "NodeContext",
    "asset_node",
    "building_node",
    "iso_utc",
    "job_activity",
    "part_node",
    "parts_catalog_node",
    "plant_node",
    "plex_source_system",
    "production_series_node",
    "scrap_series_node",
    "series_node",
    "workcenter_node",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class NodeContext:
    """What a node mapping needs besides the record.

    Attributes:
        pcn: The PCN the records belong to.
        ids: The external-id scheme (node external ids are the classic ones).
        space: The instance space (`cdf.datamodeling.instance_space`).
        source_system: External id of the Plex `CogniteSourceSystem` node.
    """

    pcn: Pcn
    ids: ExternalIdScheme = DEFAULT_ID_SCHEME
    space: str = DEFAULT_INSTANCE_SPACE
    source_system: str = PLEX_SOURCE_SYSTEM
    _classic: MappingContext = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_classic", MappingContext(pcn=self.pcn, ids=self.ids))

    @property
    def classic(self) -> MappingContext:
        """The classic mapping context with the same PCN and id scheme."""
        return self._classic

    @property
    def source_context(self) -> str:
        """`PCN {pcn}`."""
        return f"PCN {self.pcn}"


def iso_utc(epoch_milliseconds: int) -> str:
    """ISO 8601 UTC text with milliseconds for an epoch-millisecond time (`...T03:04:05.000+00:00`)."""
    moment = _EPOCH + timedelta(milliseconds=epoch_milliseconds)
    return moment.isoformat(timespec="milliseconds")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(epoch_ms(moment))


def plex_source_system(ctx: NodeContext) -> SourceSystemNode:
    """The `CogniteSourceSystem` node every Plex node names as its `source`."""
    return SourceSystemNode(
        ctx.source_system,
        space=ctx.space,
        name="Plex",
        description="Rockwell Automation Plex Smart Manufacturing Platform (ERP/MES)",
        manufacturer="Rockwell Automation",
    )


def asset_node(item: AssetItem, ctx: NodeContext, source_id: str | None) -> AssetNode:
    """The `CogniteAsset` node describing a classic asset item (same external id, name, description and parent).

    Extractors derive their nodes from the classic items they map, so a replaced classic mapping shows in the nodes.
    """
    return AssetNode(
        item.external_id,
        space=ctx.space,
        name=item.name,
        description=item.description,
        parent=item.parent_external_id,
        source_id=source_id,
        source_context=ctx.source_context,
        source=ctx.source_system,
    )


def plant_node(ctx: NodeContext) -> AssetNode:
    """The plant's root asset node (`sourceId` the PCN)."""
    return asset_node(plant_asset(ctx.classic), ctx, ctx.pcn)


def parts_catalog_node(ctx: NodeContext) -> AssetNode:
    """The parts catalog node under the plant (no Plex key)."""
    return asset_node(parts_catalog_asset(ctx.classic), ctx, None)


def building_node(building: Building, ctx: NodeContext) -> AssetNode:
    """A building node under the plant."""
    return asset_node(building_asset(building, ctx.classic), ctx, building.id)


def workcenter_node(workcenter: Workcenter, ctx: NodeContext) -> AssetNode:
    """A workcenter node under its building, or under the plant when it has none."""
    return asset_node(workcenter_asset(workcenter, ctx.classic), ctx, workcenter.workcenter_id)


def part_node(part: Part, ctx: NodeContext) -> AssetNode:
    """A part node under the parts catalog."""
    return asset_node(part_asset(part, ctx.classic), ctx, part.id)


def job_activity(job: Job, ctx: NodeContext) -> ActivityNode:
    """A job as an activity on its part (and building, when known)."""
    event = job_event(job, ctx.classic)
    return ActivityNode(
        event.external_id,
        space=ctx.space,
        name=job.job_number or job.id,
        description=event.description,
        start_time=None if event.start_time is None else iso_utc(event.start_time),
        end_time=None if event.end_time is None else iso_utc(event.end_time),
        scheduled_start_time=_iso(job.earliest_start_date_time),
        scheduled_end_time=_iso(job.due_date),
        assets=tuple(event.asset_external_ids),
        source_id=job.id,
        source_context=ctx.source_context,
        source=ctx.source_system,
    )


def series_node(item: TimeSeriesItem, workcenter: Workcenter, ctx: NodeContext) -> TimeSeriesNode:
    """The `CogniteTimeSeries` node describing a classic series item of a workcenter (same external id and name)."""
    return TimeSeriesNode(
        item.external_id,
        space=ctx.space,
        name=item.name,
        description=item.description,
        is_step=item.is_step,
        type="numeric",
        source_unit=item.unit,
        assets=() if item.asset_external_id is None else (item.asset_external_id,),
        source_id=workcenter.workcenter_id,
        source_context=ctx.source_context,
        source=ctx.source_system,
    )


def production_series_node(workcenter: Workcenter, ctx: NodeContext) -> TimeSeriesNode:
    """The produced-quantity series node of a workcenter."""
    return series_node(production_series(workcenter, ctx.classic), workcenter, ctx)


def scrap_series_node(workcenter: Workcenter, ctx: NodeContext) -> TimeSeriesNode:
    """The scrap-quantity series node of a workcenter."""
    return series_node(scrap_series(workcenter, ctx.classic), workcenter, ctx)
