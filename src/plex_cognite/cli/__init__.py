"""The `plex-cognite` command line: `run`, `check` and `demo` (see `plex_cognite.cli.main`)."""

from plex_cognite.cli.main import main

__all__ = ["main"]
