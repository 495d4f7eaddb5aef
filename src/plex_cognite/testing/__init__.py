"""Test fakes of both APIs, a simulated plant and pytest fixtures, for our tests and yours."""

from plex_cognite.testing._faults import Fault, FaultPlan
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import ExpectedCdf, PlantSize, SimulatedPlant

__all__ = ["ExpectedCdf", "FakeCDF", "FakePlex", "Fault", "FaultPlan", "PlantSize", "SimulatedPlant"]
