"""plex-cognite: move manufacturing data from Plex into Cognite Data Fusion."""

__version__ = "0.1.0"
__all__ = ["__version__"]
