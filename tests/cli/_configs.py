"""Config files for CLI tests: a complete config against the fakes, and closed ports."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import yaml

from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.plant import PlantSize, SimulatedPlant

TINY = PlantSize(
    buildings=1,
    workcenters=3,
    parts=10,
    jobs=30,
    production_entries=120,
    scrap_entries=20,
    workcenter_status_entries=40,
    containers=5,
    history_days=2,
)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_for(plex_url: str, cdf: FakeCDF, plant: SimulatedPlant, workdir: Path) -> dict[str, Any]:
    """A config for the fakes, with short connect budgets (local state and dead letters under `workdir`)."""
    return {
        "plex": {
            "base_url": plex_url,
            "api_key": "test-key",
            "pcns": [plant.pcn],
            "http2": False,
            "rate_limit_per_minute": 10000,
            "connect_budget_s": 0.5,
            "retry": {"initial_wait_s": 0.01, "max_wait_s": 0.05},
        },
        "cdf": {"base_url": cdf.base_url, "project": cdf.project, "token": cdf.token, "connect_budget_s": 0.5},
        "extraction": {"start": plant.start.isoformat(), "end": plant.end.isoformat(), "window": "1d"},
        "state": {"path": str(workdir / "state.json")},
        "dead_letters": {"path": str(workdir / "dead.jsonl")},
        "logging": {"level": "ERROR"},
    }


def write(path: Path, config: dict[str, Any]) -> Path:
    """Write `config` as YAML to `path`."""
    path.write_text(yaml.safe_dump(config))
    return path
