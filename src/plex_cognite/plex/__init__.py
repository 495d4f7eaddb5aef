"""plex."""
