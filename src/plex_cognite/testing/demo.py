"""Helpers for running the library against its fakes: settings that point at them, and a check of the result.

`demo_settings(...)` builds `ExtractorSettings` for a running `FakePlex` + `FakeCDF` (state and dead letters in a
work directory, `cdf.sink` as asked); `verify_cdf(...)` compares what landed in the `FakeCDF` with what the
`SimulatedPlant` says a correct extraction yields: the classic resources and/or the Core Data Model node graph.
`plex-cognite demo`, the examples and the end-to-end tests use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings, SinkKind
    from plex_cognite.testing.fake_cdf import FakeCDF
    from plex_cognite.testing.plant import SimulatedPlant

__all__ = ["demo_settings", "verify_cdf"]


def demo_settings(
    plex_url: str,
    cdf: FakeCDF,
    plant: SimulatedPlant,
    workdir: Path,
    *,
    api_key: str = "test-key",
    sink: SinkKind = "classic",
    datasource: Mapping[str, Any] | None = None,
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
        datasource: The `plex.datasource` section (for data-source streams), e.g. `{"base_url":
            fake.datasource_url, "username": ..., "password": ...}` from `FakePlex.datasource_credentials`.
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
                **({"datasource": dict(datasource)} if datasource is not None else {}),
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
