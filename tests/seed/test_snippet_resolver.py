"""Quick Start, snippet 1: link an event to assets by numeric id, from external ids, with the client you have."""

from __future__ import annotations

from plex_cognite.testing import FakeCDF


def test_snippet_with_the_sync_client_returns_numeric_ids() -> None:
    with FakeCDF() as cdf:
        [asset] = cdf.preload("assets", [{"externalId": "PCN340884_PART_6f1c2d", "name": "P-100"}])
        client = cdf.cognite_client()

        # --- snippet body (verbatim) ---
        from plex_cognite import EventAssetLinker, get_resolver

        resolver = get_resolver(client)
        linker = EventAssetLinker(resolver)
        asset_ids = linker.prepare_event_asset_ids(["PCN340884_PART_6f1c2d"])
        # --- end of snippet ---

        assert asset_ids == [asset["id"]]


async def test_snippet_with_the_async_client_is_awaitable() -> None:
    with FakeCDF() as cdf:
        [asset] = cdf.preload("assets", [{"externalId": "PCN340884_PART_6f1c2d", "name": "P-100"}])
        client = cdf.async_cognite_client()

        # --- snippet body (verbatim, awaited) ---
        from plex_cognite import EventAssetLinker, get_resolver

        resolver = get_resolver(client)
        linker = EventAssetLinker(resolver)
        asset_ids = await linker.prepare_event_asset_ids(["PCN340884_PART_6f1c2d"])
        # --- end of snippet ---

        assert asset_ids == [asset["id"]]
