"""The Quick Start snippets users bring over, run with only their import lines changed to `plex_cognite`."""
