"""Test fakes of both APIs, a simulated plant and pytest fixtures, for our tests and yours.

Names are loaded on first use, so `python -m plex_cognite.testing.fake_cdf` (and `fake_plex`) run their module
once, as `__main__`, and importing the pytest plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plex_cognite.testing._faults import Fault, FaultPlan
    from plex_cognite.testing.fake_cdf import FakeCDF
    from plex_cognite.testing.fake_plex import FakePlex
    from plex_cognite.testing.plant import ExpectedCdf, PlantSize, SimulatedPlant

__all__ = ["ExpectedCdf", "FakeCDF", "FakePlex", "Fault", "FaultPlan", "PlantSize", "SimulatedPlant"]

_HOMES = {
    "ExpectedCdf": "plex_cognite.testing.plant",
    "FakeCDF": "plex_cognite.testing.fake_cdf",
    "FakePlex": "plex_cognite.testing.fake_plex",
    "Fault": "plex_cognite.testing._faults",
    "FaultPlan": "plex_cognite.testing._faults",
    "PlantSize": "plex_cognite.testing.plant",
    "SimulatedPlant": "plex_cognite.testing.plant",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'plex_cognite.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
