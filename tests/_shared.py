"""Locate the team's shared reference files (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_path(name: str) -> Path:
    """Return `../shared/reference/<name>`, or skip the calling test with a clear reason when it is absent.

    `PLEX_COGNITE_SHARED_DIR` names another `shared` directory (for checkouts that are not beside it, such as
    git worktrees).
    """
    root = Path(os.environ["PLEX_COGNITE_SHARED_DIR"]) if os.environ.get("PLEX_COGNITE_SHARED_DIR") else None
    path = (root or REPO_ROOT.parent / "shared") / "reference" / name
    if not path.exists():
        pytest.skip(f"shared reference file {path} is absent (CI always has it)")
    return path
