"""Locate the team's shared reference files (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_path(name: str) -> Path:
    """Return `../shared/reference/<name>`, or skip the calling test with a clear reason when it is absent."""
    path = REPO_ROOT.parent / "shared" / "reference" / name
    if not path.exists():
        pytest.skip(f"shared reference file {path} is absent (CI always has it)")
    return path
