"""The results sinks hand back and the dead-letter record (defined in `plex_cognite.typing`'s own module)."""

from plex_cognite._results import DeadLetter, ItemFailure, WriteResult

__all__ = ["DeadLetter", "ItemFailure", "WriteResult"]
