"""`plex-cognite demo`: a full extraction from a simulated plant into a fake CDF, in-process, in seconds.

It starts `FakePlex` serving a `SimulatedPlant` and `FakeCDF` on loopback ports, runs every stream through the real
HTTP clients, prints the run report, and verifies the result: every event is linked to existing assets, and the
whole CDF content equals what the plant says a correct extraction yields (`SimulatedPlant.expected_cdf`).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings
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
    **extraction: Any,
) -> ExtractorSettings:
    """Settings that point at the fakes, with state and dead letters under `workdir`.

    Args:
        plex_url: FakePlex base URL.
        cdf: The running FakeCDF.
        plant: The plant FakePlex serves (its history range becomes the extraction range).
        workdir: Directory for the state file and the dead-letter file.
        api_key: The key FakePlex accepts.
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
            "cdf": {"base_url": cdf.base_url, "project": cdf.project, "token": cdf.token},
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

    Also checks that every event of the plant's PCN links at least one asset and only existing ones.
    """
    extraction = settings.extraction
    expected = plant.expected_cdf(
        extraction.start,
        extraction.end,
        streams=list(extraction.streams),
        on_missing_asset="skip_link" if extraction.on_missing_asset == "skip_link" else "defer",
    )
    series = [row["externalId"] for row in cdf.timeseries]
    problems = expected.mismatches(cdf.assets, cdf.events, cdf.timeseries, {xid: cdf.datapoints(xid) for xid in series})
    asset_ids = {row["id"] for row in cdf.assets}
    prefix = f"{extraction.external_id_prefix}{plant.pcn}_"
    for event in cdf.events:
        if not str(event.get("externalId", "")).startswith(prefix):
            continue
        links = event.get("assetIds") or []
        if not links:
            problems.append(f"event {event['externalId']} is not linked to any asset")
        elif not set(links) <= asset_ids:
            problems.append(f"event {event['externalId']} links assets that do not exist: {links}")
    return problems


def run_demo(size: str = "small", *, seed: int = 0, pcn: str = "340884", out: TextIO | None = None) -> int:
    """Run the demo; print the report and the verification to `out`.

    Args:
        size: Plant size preset (`small`, `medium`, `large`).
        seed: Plant seed.
        pcn: The simulated PCN.
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
        settings = demo_settings(plex.base_url, cdf, plant, Path(tmp))
        print(f"plant: {plant!r}", file=out)
        print(f"fake Plex at {plex.base_url}, fake CDF at {cdf.base_url} (project {cdf.project})", file=out)
        report = run_extractors_sync(settings, on_progress=ProgressPrinter(out))
        print(report.format_table(), file=out)
        problems = verify_cdf(cdf, plant, settings)
        events = len(cdf.events)
        linked = sum(1 for e in cdf.events if e.get("assetIds"))
        print(
            f"\nCDF now holds {len(cdf.assets)} assets, {events} events ({linked} linked to assets), "
            f"{len(cdf.timeseries)} time series, "
            f"{sum(len(cdf.datapoints(t['externalId'])) for t in cdf.timeseries)} datapoints",
            file=out,
        )
        dead = Path(tmp) / "dead-letters.jsonl"
        dead_count = sum(1 for _ in dead.open(encoding="utf-8")) if dead.exists() else 0
        print(f"dead letters: {dead_count} malformed Plex rows (kept with their reason and payload)", file=out)
        if problems:
            print(f"verification FAILED: {len(problems)} difference(s) from the expected CDF content:", file=out)
            for line in problems[:20]:
                print(f"  {line}", file=out)
        else:
            print("verification: every event is linked, and CDF matches the plant exactly", file=out)
        print(f"demo finished in {time.monotonic() - started:.1f} s", file=out)
    return 0 if report.ok and not problems else 1
