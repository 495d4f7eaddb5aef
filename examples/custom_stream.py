"""A custom stream: Plex on-hand containers into a CDF RAW table, next to the built-in streams.

`ContainersExtractor` subclasses `AsyncBaseExtractor`, as every built-in extractor does: it reads through
`self.plex` (the Plex client bound to its PCN), maps with a plain function, and writes through `self.sinks.raw`
(a RAW table named after the stream, in `cdf.raw_database`). State, change detection (a re-run writes nothing),
dead letters and the run report come with the base class.

Runs as is against the built-in fakes:

    python examples/custom_stream.py
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from plex_cognite import AsyncBaseExtractor, RawRowItem, run_extractors_sync
from plex_cognite.plex.models import Container
from plex_cognite.testing import FakeCDF, FakePlex, SimulatedPlant
from plex_cognite.testing.demo import demo_settings


def container_row(container: Container) -> RawRowItem:
    """One container -> one RAW row keyed by serial number (a pure function: easy to test)."""
    return RawRowItem(container.serial_no, container.model_dump(mode="json", by_alias=True, exclude_none=True))


class ContainersExtractor(AsyncBaseExtractor):
    """Every on-hand container of the PCN as a row of the RAW table `containers`."""

    stream = "containers"
    needs_assets = False  # RAW rows link to nothing: no need to wait for master data

    async def extract(self) -> None:
        async for containers in self.plex.iter_containers():
            await self.sinks.raw.put(self.map_records(containers, container_row))


def main() -> None:
    plant = SimulatedPlant(seed=0)
    with FakePlex(plant) as plex, FakeCDF() as cdf, tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(plex.base_url, cdf, plant, Path(tmp), streams=["master_data"])

        # Beside the built-ins, in one run:
        first = run_extractors_sync(settings, extra_extractors=[ContainersExtractor])
        print(first.format_table())
        print(f"RAW plex/containers now has {len(cdf.raw_rows('plex', 'containers'))} rows")

        # Standalone, one PCN: nothing changed, so nothing is written.
        async def standalone() -> None:
            async with ContainersExtractor.from_settings(settings, pcn=plant.pcn) as extractor:
                report = await extractor.run()
            print(f"standalone re-run: {report.written} written, {report.unchanged} unchanged")

        asyncio.run(standalone())


if __name__ == "__main__":
    main()
