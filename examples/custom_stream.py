"""A custom stream: Plex on-hand containers into a CDF RAW table, next to the built-in streams.

It composes a `Source` (Plex containers), a `Transform` (container -> RAW row, a plain function) and a `Sink`
(`RawSink`) with `StreamExtractor`, and hands it to `run_extractors` as an extra extractor. State, change detection
(a re-run writes nothing) and the run report come for free.

Runs as is against the built-in fakes:

    python examples/custom_stream.py
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from plex_cognite.cdf.items import RawRowItem
from plex_cognite.cdf.sinks import RawSink
from plex_cognite.core.extractor import Extractor, ExtractorContext, StreamExtractor
from plex_cognite.plex.client import AsyncPlexClient
from plex_cognite.plex.models import Container
from plex_cognite.runner import RunResources, run_extractors_sync
from plex_cognite.testing.demo import demo_settings
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant
from plex_cognite.typing import TimeWindow


class ContainerSource:
    """A `Source`: every on-hand container of one PCN, in batches."""

    def __init__(self, plex: AsyncPlexClient, pcn: str) -> None:
        self.plex = plex
        self.pcn = pcn

    async def read(self, window: TimeWindow | None = None) -> AsyncIterator[Sequence[Container]]:
        async for batch in self.plex.iter_containers(self.pcn):
            yield batch


def container_row(container: Container) -> list[RawRowItem]:
    """A `Transform`: one container -> one RAW row keyed by serial number."""
    return [RawRowItem(container.serial_no, container.model_dump(mode="json", by_alias=True, exclude_none=True))]


def containers(context: ExtractorContext, resources: RunResources) -> Extractor:
    """The factory the runner calls once per PCN."""
    return StreamExtractor(
        context,
        stream="containers",
        source=ContainerSource(resources.plex, context.pcn),
        transform=container_row,
        sink=RawSink(resources.cdf, "plex", "containers"),
        needs_assets=False,
    )


def main() -> None:
    plant = SimulatedPlant(seed=0)
    with FakePlex(plant) as plex, FakeCDF() as cdf, tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(plex.base_url, cdf, plant, Path(tmp), streams=["master_data"])
        first = run_extractors_sync(settings, extra_extractors=[containers])
        print(first.format_table())
        print(f"RAW plex/containers now has {len(cdf.raw_rows('plex', 'containers'))} rows")
        second = run_extractors_sync(settings, extra_extractors=[containers])
        print(f"second run wrote {second.total('written')} items with {second.total('requests')} requests")


if __name__ == "__main__":
    main()
