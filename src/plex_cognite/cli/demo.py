"""`plex-cognite demo`: a full extraction from a simulated plant into a fake CDF, in-process, in seconds.

It starts `FakePlex` serving a `SimulatedPlant` and `FakeCDF` on loopback ports, runs every stream through the real
HTTP clients, prints the run report, and verifies the result: every event is linked to existing assets, and the
whole CDF content equals what the plant says a correct extraction yields (`SimulatedPlant.expected_cdf`). With
`--sink datamodeling` or `both`, the Core Data Model nodes are verified too, read back through the cognite-sdk
(`SimulatedPlant.expected_nodes`).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings, SinkKind
    from plex_cognite.testing.fake_cdf import FakeCDF

__all__ = ["run_demo"]


def run_demo(
    size: str = "small",
    *,
    seed: int = 0,
    pcn: str = "340884",
    sink: SinkKind = "classic",
    out: TextIO | None = None,
) -> int:
    """Run the demo; print the report and the verification to `out`.

    Args:
        size: Plant size preset (`small`, `medium`, `large`).
        seed: Plant seed.
        pcn: The simulated PCN.
        sink: `cdf.sink`: `classic`, `datamodeling` or `both`.
        out: Where to print (default stdout).

    Returns:
        0 when the extraction succeeded and CDF matches the plant, 1 otherwise.
    """
    from plex_cognite._report_table import format_report
    from plex_cognite.cli._progress import ProgressPrinter
    from plex_cognite.runner import run_extractors_sync
    from plex_cognite.testing.demo import demo_settings, verify_cdf
    from plex_cognite.testing.fake_cdf import FakeCDF
    from plex_cognite.testing.fake_plex import FakePlex
    from plex_cognite.testing.plant import PlantSize, SimulatedPlant

    out = out if out is not None else sys.stdout
    plant = SimulatedPlant(seed=seed, pcn=pcn, size=PlantSize.named(size))
    started = time.monotonic()
    with FakePlex(plant) as plex, FakeCDF() as cdf, tempfile.TemporaryDirectory(prefix="plex-cognite-demo-") as tmp:
        settings = demo_settings(plex.base_url, cdf, plant, Path(tmp), sink=sink)
        print(f"plant: {plant!r}", file=out)
        print(f"fake Plex at {plex.base_url}, fake CDF at {cdf.base_url} (project {cdf.project})", file=out)
        report = run_extractors_sync(settings, on_progress=ProgressPrinter(out))
        print(format_report(report), file=out)
        problems = verify_cdf(cdf, plant, settings)
        _print_content(cdf, settings, out)
        dead = Path(tmp) / "dead-letters.jsonl"
        dead_count = sum(1 for _ in dead.open(encoding="utf-8")) if dead.exists() else 0
        print(f"dead letters: {dead_count} malformed Plex rows (kept with their reason and payload)", file=out)
        if problems:
            print(f"verification FAILED: {len(problems)} difference(s) from the expected CDF content:", file=out)
            for line in problems[:20]:
                print(f"  {line}", file=out)
        else:
            print(f"verification: {_VERIFIED[sink]}", file=out)
        print(f"demo finished in {time.monotonic() - started:.1f} s", file=out)
    return 0 if report.ok and not problems else 1


_VERIFIED: dict[str, str] = {
    "classic": "every event is linked, and CDF matches the plant exactly",
    "datamodeling": "the node graph and its datapoints match the plant exactly",
    "both": "every event is linked, and CDF (classic resources and node graph) matches the plant exactly",
}


def _print_content(cdf: FakeCDF, settings: ExtractorSettings, out: TextIO) -> None:
    """What CDF holds now: the classic resources and/or the nodes."""
    print("", file=out)
    if settings.cdf.writes_classic:
        series = [t["externalId"] for t in cdf.timeseries if t.get("externalId") is not None]
        linked = sum(1 for e in cdf.events if e.get("assetIds"))
        print(
            f"CDF now holds {len(cdf.assets)} assets, {len(cdf.events)} events ({linked} linked to assets), "
            f"{len(series)} time series, {sum(len(cdf.datapoints(xid)) for xid in series)} datapoints",
            file=out,
        )
    if settings.cdf.writes_nodes:
        space = settings.cdf.datamodeling.instance_space
        counts = {view: len(cdf.nodes(view)) for view in ("CogniteAsset", "CogniteActivity", "CogniteTimeSeries")}
        empty = len(cdf.nodes()) - len(cdf.nodes("CogniteSourceSystem")) - sum(counts.values())
        print(
            f"instance space {space!r} holds {counts['CogniteAsset']} CogniteAsset, "
            f"{counts['CogniteActivity']} CogniteActivity and {counts['CogniteTimeSeries']} CogniteTimeSeries "
            f"nodes, a CogniteSourceSystem node, and {empty} empty node(s) (relation targets Plex does not list)",
            file=out,
        )
