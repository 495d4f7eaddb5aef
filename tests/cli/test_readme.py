"""The README's demo sample is what `plex-cognite demo` prints (timings aside), and its external id is real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plex_cognite.cdf.ids import ExternalIdScheme
from plex_cognite.cli import main
from plex_cognite.testing.plant import SimulatedPlant

README = Path(__file__).resolve().parents[2] / "README.md"


def sample_block() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```text\n(pcn .*?)\n```", text, re.DOTALL)
    assert match is not None, "the README has no demo sample"
    return match[1].splitlines()


def without_timings(lines: list[str]) -> list[list[str]]:
    """Table rows as words with the seconds column dropped; other lines as words (the demo's duration dropped)."""
    rows = []
    for line in lines:
        words = line.split()
        if words and (words[0].isdigit() or words[0] == "total") and words[-1] in ("ok", "FAILED"):
            words = words[:-2] + words[-1:]
        rows.append(words)
    return rows


def test_the_readme_sample_is_the_demo_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    sample = sample_block()
    start = next(i for i, line in enumerate(out) if line.startswith("pcn "))
    actual = out[start : start + len(sample)]
    assert without_timings(sample) == without_timings(actual)


def test_the_readme_external_id_is_one_the_library_writes() -> None:
    text = README.read_text(encoding="utf-8")
    shown = re.findall(r'"(PCN\d+_PART_[^"]+)"', text)
    assert shown
    plant = SimulatedPlant()
    written = {ExternalIdScheme().part(plant.pcn, str(part["id"])) for part in plant.parts()}
    assert set(shown) <= written
