"""Extractors installed packages register under the entry-point group `plex_cognite.extractors` run by name."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from plex_cognite.errors import ConfigurationError
from plex_cognite.extractors.registry import load_extractor, registered_streams
from plex_cognite.runner import run_extractors
from plex_cognite.testing import FakeCDF, FakePlex, SimulatedPlant
from plex_cognite.testing.demo import demo_settings
from tests.e2e.conftest import E2E_SIZE

PLUGIN = """
from plex_cognite import AsyncBaseExtractor, RawRowItem


class ToolingExtractor(AsyncBaseExtractor):
    stream = "tooling"
    needs_assets = False

    async def extract(self) -> None:
        async for parts in self.plex.iter_parts():
            rows = [RawRowItem(p.id, {"number": p.number}) for p in parts]
            await self.sinks.raw.write(rows)
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package installed the way pip installs one: a module plus a dist-info with an entry point."""
    site = tmp_path / "site"
    (site / "tooling_plugin.dist-info").mkdir(parents=True)
    (site / "tooling_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (site / "tooling_plugin.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tooling-plugin\nVersion: 1.0\n"
    )
    (site / "tooling_plugin.dist-info" / "entry_points.txt").write_text(
        "[plex_cognite.extractors]\ntooling = tooling_plugin:ToolingExtractor\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return "tooling"


def test_a_registered_stream_is_found_by_name(installed_plugin: str) -> None:
    assert installed_plugin in registered_streams()
    assert load_extractor(installed_plugin).__name__ == "ToolingExtractor"  # type: ignore[attr-defined]


def test_an_unknown_stream_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'production'"):
        load_extractor("prodution")


async def test_a_registered_extractor_runs_when_listed_in_streams(installed_plugin: str, tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=3, size=E2E_SIZE)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        settings = demo_settings(plex.base_url, cdf, plant, tmp_path, streams=["master_data", installed_plugin])
        report = await run_extractors(settings)
        assert report.ok, report.format_table()
        rows = cdf.raw_rows("plex", "tooling")
        parts = {a["externalId"].rsplit("_", 1)[1] for a in cdf.assets if "_PART_" in a["externalId"]}
        assert set(rows) == parts


def test_the_inventory_streams_and_every_data_source_resolve_by_name() -> None:
    from plex_cognite.extractors import ContainerMovesExtractor, InventoryExtractor

    assert load_extractor("inventory") is InventoryExtractor
    assert load_extractor("container_moves") is ContainerMovesExtractor
    factory = load_extractor("datasource:checksheets")
    assert factory.__name__ == "DataSourceExtractor[datasource:checksheets]"  # type: ignore[attr-defined]
