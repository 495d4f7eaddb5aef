"""Turn an item's asset external ids into the numeric `assetIds` CDF requires, under a missing-asset policy.

```python
resolver = get_resolver(client)
linker = EventAssetLinker(resolver)
linker.prepare_event_asset_ids(["PCN340884_PART_8620c9c8-0004-4000-8000-000000000000"])   # [4503599627370496]
```

With an `AsyncCogniteClient` the same calls are awaitable. What happens to an external id that names no asset is the
`on_missing_asset` policy:

- `defer` (default): report them (`AssetsNotFoundError(deferred=True)` from `prepare_event_asset_ids`, or
  `LinkResult.missing`), so the caller holds the item and retries after the next asset pass. Never written unlinked.
- `skip_link`: drop the unknown ids silently, but count them (`skipped_links`).
- `fail`: raise `AssetsNotFoundError` naming the ids.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeAlias, cast, overload

from plex_cognite.cdf.resolver import AssetIDResolver, AsyncMode, ModeT, SyncMode, run_facade
from plex_cognite.errors import SinkError
from plex_cognite.typing import AssetId, ExternalId

__all__ = ["AssetsNotFoundError", "EventAssetLinker", "LinkResult", "OnMissingAsset"]

#: What to do with a reference to an asset that does not exist (yet).
OnMissingAsset: TypeAlias = Literal["defer", "skip_link", "fail"]
_POLICIES: frozenset[str] = frozenset({"defer", "skip_link", "fail"})


def checked_policy(on_missing_asset: str) -> OnMissingAsset:
    """`on_missing_asset` itself when it names a policy.

    Raises:
        ValueError: It is not one of `defer`, `skip_link`, `fail`.
    """
    if on_missing_asset not in _POLICIES:
        raise ValueError(f"on_missing_asset must be one of defer, skip_link, fail; got {on_missing_asset!r}")
    return cast("OnMissingAsset", on_missing_asset)


class AssetsNotFoundError(SinkError):
    """Assets referenced by external id do not exist in CDF.

    Attributes:
        external_ids: The unknown asset external ids.
        deferred: True under the `defer` policy: hold the item and retry after the next asset pass.
    """

    def __init__(self, external_ids: Sequence[ExternalId], *, deferred: bool = False) -> None:
        self.external_ids = list(external_ids)
        self.deferred = deferred
        shown = ", ".join(repr(x) for x in self.external_ids[:10])
        more = f" and {len(self.external_ids) - 10} more" if len(self.external_ids) > 10 else ""
        action = (
            "hold the item and retry after the next asset pass"
            if deferred
            else "write the assets first, or use on_missing_asset='defer' or 'skip_link'"
        )
        super().__init__(f"{len(self.external_ids)} asset(s) not found in CDF: {shown}{more}; {action}")


@dataclass(frozen=True, slots=True)
class LinkResult:
    """Numeric ids found, in input order (duplicates removed), and the external ids that name no asset."""

    asset_ids: list[AssetId] = field(default_factory=list)
    missing: list[ExternalId] = field(default_factory=list)


class EventAssetLinker(Generic[ModeT]):
    """Prepare `assetIds` for events (and `assetId` for time series) from asset external ids.

    Args:
        resolver: The resolver to look ids up with; its client decides whether calls are sync or awaitable.
        on_missing_asset: `defer` | `skip_link` | `fail` (see the module docstring).

    Attributes:
        skipped_links: How many unknown references `skip_link` dropped so far.
    """

    def __init__(self, resolver: AssetIDResolver[ModeT], on_missing_asset: OnMissingAsset = "defer") -> None:
        self.on_missing_asset = checked_policy(on_missing_asset)
        self.resolver: AssetIDResolver[ModeT] = resolver
        self.skipped_links = 0

    async def link_async(self, external_ids: Iterable[ExternalId]) -> LinkResult:
        """Resolve references without applying the policy: found ids in order, plus the missing external ids."""
        wanted = list(dict.fromkeys(external_ids))
        found = await self.resolver.resolve_async(wanted)
        return LinkResult(
            asset_ids=[found[x] for x in wanted if x in found],
            missing=[x for x in wanted if x not in found],
        )

    async def prepare_event_asset_ids_async(self, external_ids: Iterable[ExternalId]) -> list[AssetId]:
        """Numeric ids for the external ids, in order, with unknown ones handled per `on_missing_asset`.

        Raises:
            AssetsNotFoundError: Under `defer` (with `deferred=True`) or `fail`, when any id is unknown.
        """
        result = await self.link_async(external_ids)
        if result.missing:
            if self.on_missing_asset == "skip_link":
                self.skipped_links += len(result.missing)
            else:
                raise AssetsNotFoundError(result.missing, deferred=self.on_missing_asset == "defer")
        return result.asset_ids

    @overload
    def prepare_event_asset_ids(
        self: EventAssetLinker[SyncMode], external_ids: Iterable[ExternalId]
    ) -> list[AssetId]: ...
    @overload
    def prepare_event_asset_ids(
        self: EventAssetLinker[AsyncMode], external_ids: Iterable[ExternalId]
    ) -> Coroutine[Any, Any, list[AssetId]]: ...
    def prepare_event_asset_ids(
        self, external_ids: Iterable[ExternalId]
    ) -> list[AssetId] | Coroutine[Any, Any, list[AssetId]]:
        """The seed's call: numeric ids for an event's `assetIds` (see `prepare_event_asset_ids_async`).

        Synchronous when the resolver was built on a `CogniteClient`, awaitable on an `AsyncCogniteClient`.
        """
        return run_facade(self.resolver, self.prepare_event_asset_ids_async(list(external_ids)))

    @overload
    def link(self: EventAssetLinker[SyncMode], external_ids: Iterable[ExternalId]) -> LinkResult: ...
    @overload
    def link(
        self: EventAssetLinker[AsyncMode], external_ids: Iterable[ExternalId]
    ) -> Coroutine[Any, Any, LinkResult]: ...
    def link(self, external_ids: Iterable[ExternalId]) -> LinkResult | Coroutine[Any, Any, LinkResult]:
        """`link_async`, synchronous for a `CogniteClient` resolver and awaitable otherwise."""
        return run_facade(self.resolver, self.link_async(list(external_ids)))
