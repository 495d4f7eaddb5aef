"""Local JSON files (the state file, the backfill ledger): read with a clear error, replaced crash-safely."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from plex_cognite.errors import StateError

__all__ = ["atomic_write", "read_json"]


def read_json(path: Path, *, what: str, remedy: str) -> object | None:
    """The JSON document in `path`, or None when the file does not exist.

    Raises:
        StateError: The file cannot be read or is not JSON: "{what} {path} is unreadable or corrupt (...); {remedy}".
    """
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StateError(f"{what} {path} is unreadable or corrupt ({error}); {remedy}") from error


def atomic_write(path: Path, pieces: Iterable[str | bytes]) -> None:
    """Replace `path` with the concatenated `pieces`: a crash leaves the old file or the new one, never a torn one.

    Text pieces are written as UTF-8, bytes as they are (a big piece is not copied to be encoded).

    Writes a temporary file in the same directory, fsyncs it, renames it over `path`, then fsyncs the directory
    (so the rename itself survives a power cut). Parent directories are created.

    Raises:
        OSError: The file could not be written (the temporary file is removed).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
