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
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings, SinkKind
    from plex_cognite.testing.fake_cdf import FakeCDF
    from plex_cognite.testing.plant import SimulatedPlant

__all__ = ["demo_settings", "run_demo", "verify_cdf"]


def demo_settings(
    plex_url: str,
    cdf: FakeCDF,
    plant: SimulatedPlant,
    workdir: Path,
    *,
    api_key: str = "test-key",
    sink: SinkKind = "classic",
    **extraction: Any,
) -> ExtractorSettings:
    """Settings that point at the fakes, with state and dead letters under `workdir`.

    Args:
        plex_url: FakePlex base URL.
        cdf: The running FakeCDF.
        plant: The plant FakePlex serves (its history range becomes the extraction range).
        workdir: Directory for the state file and the dead-letter file.
        api_key: The key FakePlex accepts.
        sink: `cdf.sink`: classic resources, Core Data Model nodes (instance space `plex`), or both.
        **extraction: Overrides for the `extraction` section.
    """
    from plex_cognite.config import ExtractorSettings

    return ExtractorSettings.model_validate(
        {
            "plex": {
                "base_url": plex_url,
                "api_key": api_key,
                "pcns": [plant.pcn],
                "rate_limit_per_minute": 10_000,
                "http2": False,
                "retry": {"initial_wait_s": 0.05, "max_wait_s": 0.5},
            },
            "cdf": {"base_url": cdf.base_url, "project": cdf.project, "token": cdf.token, "sink": sink},
            "extraction": {
                "start": plant.start,
                "end": plant.end,
                "window": "1d",
                **extraction,
            },
            "state": {"backend": "local", "path": workdir / "state.json"},
            "dead_letters": {"backend": "local", "path": workdir / "dead-letters.jsonl"},
        }
    )


def verify_cdf(cdf: FakeCDF, plant: SimulatedPlant, settings: ExtractorSettings) -> list[str]:
    """Compare the fake CDF with the plant's expected content; return one line per problem (empty: all good).

    What is compared follows `cdf.sink`. Classic resources: every asset, event, time series and datapoint, and every
    event of the plant's PCN links at least one asset and only existing ones; with `datamodeling` alone, no classic
    resource of the PCN may exist. Nodes (`datamodeling`, `both`): the node graph in the instance space, its
    relations, empty relation targets and datapoints by instance id, read through the cognite-sdk.
    """
    extraction = settings.extraction
    problems = (
        _verify_classic(cdf, plant, settings) if settings.cdf.writes_classic else _no_classic(cdf, plant, settings)
    )
    if settings.cdf.writes_nodes:
        expected = plant.expected_nodes(extraction.start, extraction.end, streams=list(extraction.streams))
        space = settings.cdf.datamodeling.instance_space
        problems += [f"node graph: {line}" for line in expected.mismatches_in(cdf.cognite_client(), space)]
    return problems


def _verify_classic(cdf: FakeCDF, plant: SimulatedPlant, settings: ExtractorSettings) -> list[str]:
    extraction = settings.extraction
    expected = plant.expected_cdf(
        extraction.start,
        extraction.end,
        streams=list(extraction.streams),
        on_missing_asset="skip_link" if extraction.on_missing_asset == "skip_link" else "defer",
    )
    # Series of Core Data Model nodes have an instance id and no external id.
    series = [row["externalId"] for row in cdf.timeseries if row.get("externalId") is not None]
    problems = expected.mismatches(cdf.assets, cdf.events, cdf.timeseries, {xid: cdf.datapoints(xid) for xid in series})
    asset_ids = {row["id"] for row in cdf.assets}
    prefix = _prefix(plant, settings)
    for event in cdf.events:
        if not str(event.get("externalId", "")).startswith(prefix):
            continue
        links = event.get("assetIds") or []
        if not links:
            problems.append(f"event {event['externalId']} is not linked to any asset")
        elif not set(links) <= asset_ids:
            problems.append(f"event {event['externalId']} links assets that do not exist: {links}")
    return problems


def _no_classic(cdf: FakeCDF, plant: SimulatedPlant, settings: ExtractorSettings) -> list[str]:
    prefix = _prefix(plant, settings)
    return [
        f"classic {kind} {row['externalId']} written although cdf.sink is {settings.cdf.sink}"
        for kind, rows in (("asset", cdf.assets), ("event", cdf.events), ("time series", cdf.timeseries))
        for row in rows
        if str(row.get("externalId") or "").startswith(prefix)
    ]


def _prefix(plant: SimulatedPlant, settings: ExtractorSettings) -> str:
    return f"{settings.extraction.external_id_prefix}{plant.pcn}_"


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
    from plex_cognite.cli.main import ProgressPrinter
    from plex_cognite.runner import run_extractors_sync
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
        print(report.format_table(), file=out)
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
