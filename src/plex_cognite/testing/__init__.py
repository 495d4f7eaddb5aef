"""Test fakes of both APIs, a simulated plant and pytest fixtures, for our tests and yours."""

from plex_cognite.testing._faults import Fault, FaultPlan
from plex_cognite.testing.fake_cdf import FakeCDF

__all__ = ["FakeCDF", "Fault", "FaultPlan"]
