from __future__ import annotations

import pytest
from cognite.client import AsyncCogniteClient, CogniteClient
from cognite.client.data_classes import AssetWrite

from plex_cognite.cdf import AssetIDResolver, AssetsNotFoundError, EventAssetLinker, LinkResult
from plex_cognite.testing.fake_cdf import FakeCDF


@pytest.fixture
def ids(client: CogniteClient) -> dict[str, int]:
    created = client.assets.create([AssetWrite(external_id=x, name=x) for x in ("a", "b", "c")])
    return {a.external_id: a.id for a in created if a.external_id is not None}


def test_ids_come_back_in_order_without_duplicates(client: CogniteClient, ids: dict[str, int]) -> None:
    linker = EventAssetLinker(AssetIDResolver(client))
    assert linker.prepare_event_asset_ids(["c", "a", "c", "b"]) == [ids["c"], ids["a"], ids["b"]]


def test_defer_reports_the_missing_ids(client: CogniteClient, ids: dict[str, int]) -> None:
    linker = EventAssetLinker(AssetIDResolver(client))
    with pytest.raises(AssetsNotFoundError) as info:
        linker.prepare_event_asset_ids(["a", "ghost", "b", "phantom"])
    assert info.value.deferred
    assert info.value.external_ids == ["ghost", "phantom"]
    assert linker.link(["a", "ghost"]) == LinkResult([ids["a"]], ["ghost"])


def test_skip_link_drops_and_counts(client: CogniteClient, ids: dict[str, int]) -> None:
    linker = EventAssetLinker(AssetIDResolver(client), on_missing_asset="skip_link")
    assert linker.prepare_event_asset_ids(["ghost", "b"]) == [ids["b"]]
    assert linker.skipped_links == 1


async def test_fail_raises_naming_the_ids(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    linker = EventAssetLinker(AssetIDResolver(aclient), on_missing_asset="fail")
    with pytest.raises(AssetsNotFoundError, match="ghost") as info:
        await linker.prepare_event_asset_ids(["ghost"])
    assert not info.value.deferred


def test_an_unknown_policy_is_refused(client: CogniteClient) -> None:
    with pytest.raises(ValueError, match="on_missing_asset"):
        EventAssetLinker(AssetIDResolver(client), on_missing_asset="ignore")  # type: ignore[arg-type]
