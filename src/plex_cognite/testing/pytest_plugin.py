"""pytest fixtures for plex-cognite users, registered through the `pytest11` entry point.

Install plex-cognite and the fixtures below are available in any test suite.
"""

from __future__ import annotations

# --- redis --- (owned by the cache work)

# --- fake_cdf --- (owned by the FakeCDF work)

# --- fake_plex --- (owned by the FakePlex / SimulatedPlant work)
