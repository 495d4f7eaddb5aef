"""`cdf.sink` and `cdf.datamodeling.instance_space`: defaults, choices and the errors a user sees."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from plex_cognite.config import load_settings
from plex_cognite.errors import ConfigurationError

BASE: dict[str, dict[str, Any]] = {
    "plex": {"api_key": "test-key", "pcns": ["340884"]},
    "cdf": {"base_url": "https://api.cognitedata.com", "project": "my-project", "token": "test-token"},
    "extraction": {"start": "2025-01-01T00:00:00Z"},
}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("PLEX_COGNITE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config_with(tmp_path: Path, **cdf: Any) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**BASE, "cdf": {**BASE["cdf"], **cdf}}), encoding="utf-8")
    return path


def test_the_classic_sink_and_the_plex_space_are_the_defaults(tmp_path: Path) -> None:
    cdf = load_settings(config_with(tmp_path)).cdf
    assert (cdf.sink, cdf.datamodeling.instance_space) == ("classic", "plex")
    assert (cdf.writes_classic, cdf.writes_nodes) == (True, False)


@pytest.mark.parametrize(
    ("sink", "classic", "nodes"), [("classic", True, False), ("datamodeling", False, True), ("both", True, True)]
)
def test_each_sink_choice(tmp_path: Path, sink: str, classic: bool, nodes: bool) -> None:
    cdf = load_settings(config_with(tmp_path, sink=sink, datamodeling={"instance_space": "plant_a"})).cdf
    assert (cdf.sink, cdf.writes_classic, cdf.writes_nodes) == (sink, classic, nodes)
    assert cdf.datamodeling.instance_space == "plant_a"


@pytest.mark.parametrize(
    ("cdf", "field", "expected"),
    [
        ({"sink": "datamodelling"}, "cdf.sink", "did you mean 'datamodeling'?"),
        ({"datamodeling": {"instance_space": "9lives"}}, "cdf.datamodeling.instance_space", "not a valid space"),
        ({"datamodeling": {"instance_space": "cdf_cdm"}}, "cdf.datamodeling.instance_space", "reserved by CDF"),
        ({"datamodeling": {"instance_spce": "plex"}}, "cdf.datamodeling.instance_spce", "did you mean"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, cdf: dict[str, Any], field: str, expected: str) -> None:
    path = config_with(tmp_path, **cdf)
    with pytest.raises(ConfigurationError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}: ")
    assert expected in message
