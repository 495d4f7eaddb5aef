"""The Quick Start snippets users copy first: their bodies verbatim, only the import lines name `plex_cognite`."""
