"""Data-source streams and per-PCN Data Source accounts in the config file: loading and friendly errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from plex_cognite.config import DEFAULT_STREAMS, DataSourceSettings, load_settings
from plex_cognite.errors import ConfigurationError

CHECKSHEETS = {
    "name": "checksheets",
    "id": 4142,
    "window": {"begin_input": "Begin_Date", "end_input": "End_Date"},
    "key_columns": ["Checksheet_Key"],
    "raw_table": "checksheets",
}
ACCOUNTS = {
    "340884": {"username": "a-ws@plex.com", "password": "secret-a"},
    "310507": {"username": "b-ws@plex.com", "password": "secret-b", "base_url": "https://plant-b.on.plex.com"},
}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("PLEX_COGNITE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _config(tmp_path: Path, *, pcns: list[str], datasource: dict[str, Any] | None, datasources: list[Any]) -> Path:
    plex: dict[str, Any] = {"api_key": "k", "pcns": pcns}
    if datasource is not None:
        plex["datasource"] = datasource
    data = {
        "plex": plex,
        "cdf": {"base_url": "https://api.cognitedata.com", "project": "p", "token": "t"},
        "extraction": {"start": "2025-01-01T00:00:00Z", "datasources": datasources},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigurationError) as info:
        load_settings(path)
    return str(info.value)


def test_data_source_streams_and_per_pcn_accounts_load(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        pcns=["340884", "310507"],
        datasource={"credentials": ACCOUNTS},
        datasources=[CHECKSHEETS, {"name": "oee", "id": 18765, "inputs": {"Shift": "A"}, "key_columns": ["K", "D"]}],
    )
    settings = load_settings(path)
    checksheets, oee = settings.extraction.datasources
    assert (checksheets.stream, checksheets.table, checksheets.format) == ("datasource:checksheets", "checksheets", 2)
    assert checksheets.window is not None
    assert (checksheets.window.begin_input, checksheets.window.end_input) == ("Begin_Date", "End_Date")
    assert (oee.window, oee.table, oee.inputs, oee.key_columns) == (None, "oee", {"Shift": "A"}, ["K", "D"])
    assert settings.cdf.raw_database == "plex"
    datasource = settings.plex.datasource
    assert datasource is not None
    a, b = datasource.for_pcn("340884"), datasource.for_pcn("310507")
    assert a.username is not None
    assert a.username.get_secret_value() == "a-ws@plex.com"
    assert (a.base_url, b.base_url) == ("https://cloud.plex.com", "https://plant-b.on.plex.com")
    assert "secret-a" not in repr(settings)
    assert "secret-b" not in repr(settings)


def test_a_single_pcn_may_use_the_default_account(tmp_path: Path) -> None:
    path = _config(tmp_path, pcns=["340884"], datasource={"username": "u", "password": "p"}, datasources=[CHECKSHEETS])
    datasource = load_settings(path).plex.datasource
    assert datasource is not None
    assert datasource.for_pcn("340884") is datasource


def test_several_pcns_need_an_account_each(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        pcns=["340884", "310507"],
        datasource={"username": "u", "password": "p", "credentials": {"340884": ACCOUNTS["340884"]}},
        datasources=[CHECKSHEETS],
    )
    message = _error(path)
    assert "every PCN needs its own Data Source account" in message
    assert "310507" in message


@pytest.mark.parametrize(
    ("datasource", "datasources", "expected"),
    [
        (None, [CHECKSHEETS], "extraction.datasources needs plex.datasource"),
        ({"password": "p"}, [], "username and password go together; username is missing"),
        ({}, [], "no account is set"),
        ({"credentials": {"999": ACCOUNTS["340884"]}}, [], "credentials has PCNs that are not in pcns: 999"),
        ({"username": "u", "password": "p"}, [CHECKSHEETS, CHECKSHEETS], "'checksheets' is used twice"),
        (
            {"username": "u", "password": "p"},
            [{**CHECKSHEETS, "inputs": {"Begin_Date": "2025-01-01T00:00:00Z"}}],
            "Begin_Date are set per window; remove them from inputs",
        ),
        (
            {"username": "u", "password": "p"},
            [{**CHECKSHEETS, "window": {"begin_input": "D", "end_input": "D"}}],
            "name two different inputs",
        ),
        (
            {"username": "u", "password": "p"},
            [{**CHECKSHEETS, "key_columns": []}],
            "extraction.datasources[0].key_columns",
        ),
        ({"username": "u", "password": "p"}, [{**CHECKSHEETS, "name": "check sheets"}], "not a usable name"),
        ({"username": "u", "password": "p"}, [{**CHECKSHEETS, "id": 0}], "extraction.datasources[0].id"),
        ({"username": "u", "password": "p"}, [{**CHECKSHEETS, "format": 3}], "extraction.datasources[0].format"),
    ],
)
def test_bad_data_source_settings_name_the_field(
    tmp_path: Path, datasource: dict[str, Any] | None, datasources: list[Any], expected: str
) -> None:
    assert expected in _error(_config(tmp_path, pcns=["340884"], datasource=datasource, datasources=datasources))


def test_for_pcn_without_any_account_names_the_setting_to_add() -> None:
    settings = DataSourceSettings.model_validate({"credentials": ACCOUNTS})
    with pytest.raises(ConfigurationError, match=r"plex\.datasource\.credentials\.123"):
        settings.for_pcn("123")


def _with_streams(path: Path, streams: list[str]) -> Path:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["extraction"]["streams"] = streams
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_configured_data_sources_run_unless_streams_are_listed_without_them(tmp_path: Path) -> None:
    account = {"username": "ws", "password": "pw"}
    path = _config(tmp_path, pcns=["340884"], datasource=account, datasources=[CHECKSHEETS])
    assert load_settings(path).extraction.streams == [*DEFAULT_STREAMS, "datasource:checksheets"]

    listed = load_settings(_with_streams(path, ["inventory", "datasource:checksheets"]))
    assert listed.extraction.streams == ["inventory", "datasource:checksheets"]
    without = load_settings(_with_streams(path, ["master_data", "container_moves"]))
    assert without.extraction.streams == ["master_data", "container_moves"]


def test_a_data_source_stream_must_name_a_configured_data_source(tmp_path: Path) -> None:
    account = {"username": "ws", "password": "pw"}
    path = _config(tmp_path, pcns=["340884"], datasource=account, datasources=[CHECKSHEETS])
    message = _error(_with_streams(path, ["datasource:oee"]))
    assert "datasource:oee" in message
    assert "configured: datasource:checksheets" in message
