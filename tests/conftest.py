"""Suite-wide settings: no network calls from the cognite-sdk's version check."""

from __future__ import annotations

from cognite.client import global_config

global_config.disable_pypi_version_check = True
