"""`ExtractorSettings()` with no arguments: environment, `.env`, `PLEX_COGNITE_CONFIG`, friendly errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from plex_cognite.config import ExtractorSettings, load_settings
from plex_cognite.errors import ConfigurationError

ENV = {
    "PLEX_COGNITE_PLEX__API_KEY": "env-plex-key-123",
    "PLEX_COGNITE_PLEX__PCNS": "340884,79870",
    "PLEX_COGNITE_CDF__BASE_URL": "https://westeurope-1.cognitedata.com",
    "PLEX_COGNITE_CDF__PROJECT": "acme-prod",
    "PLEX_COGNITE_CDF__TOKEN": "env-cdf-token-456",
    "PLEX_COGNITE_EXTRACTION__START": "2025-01-01T00:00:00Z",
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PLEX_COGNITE_* variables from the caller's shell; the working directory is an empty temp dir."""
    for name in list(os.environ):
        if name.startswith("PLEX_COGNITE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_reads_environment_variables_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    settings = ExtractorSettings()
    assert settings.plex.pcns == ["340884", "79870"]
    assert settings.cdf.project == "acme-prod"
    assert isinstance(settings.plex.api_key, SecretStr)
    assert settings.plex.api_key.get_secret_value() == "env-plex-key-123"
    assert "env-plex-key-123" not in repr(settings)
    assert "env-cdf-token-456" not in str(settings)


def test_reads_dot_env_in_the_working_directory(isolated: Path) -> None:
    (isolated / ".env").write_text("".join(f"{name}={value}\n" for name, value in ENV.items()), encoding="utf-8")
    settings = ExtractorSettings()
    assert settings.plex.pcns == ["340884", "79870"]
    assert settings.cdf.token is not None
    assert settings.cdf.token.get_secret_value() == "env-cdf-token-456"


def test_environment_wins_over_dot_env(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated / ".env").write_text("".join(f"{name}={value}\n" for name, value in ENV.items()), encoding="utf-8")
    monkeypatch.setenv("PLEX_COGNITE_CDF__PROJECT", "from-env")
    assert ExtractorSettings().cdf.project == "from-env"


def test_reads_the_yaml_file_named_by_plex_cognite_config_with_substitution(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {
        "plex": {"api_key": "${PLEX_API_KEY}", "pcns": ["340884"], "retry": {"initial_delay": 1.0}},
        "cdf": {"base_url": "https://api.cognitedata.com", "project": "${CDF_PROJECT:-fallback}", "token": "t"},
        "extraction": {"start": "2025-01-01"},
    }
    path = isolated / "conf" / "extractor.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    monkeypatch.setenv("PLEX_COGNITE_CONFIG", str(path))
    monkeypatch.setenv("PLEX_API_KEY", "yaml-substituted-key")
    settings = ExtractorSettings()
    assert settings.plex.api_key.get_secret_value() == "yaml-substituted-key"
    assert settings.cdf.project == "fallback"
    assert settings.plex.retry.initial_delay == 1.0
    # Environment variables still override the file, as with load_settings().
    monkeypatch.setenv("PLEX_COGNITE_PLEX__PCNS", "79870")
    assert ExtractorSettings().plex.pcns == ["79870"]
    assert load_settings().plex.pcns == ["79870"]


def test_keyword_arguments_override_every_source(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    settings = ExtractorSettings(cdf={"project": "from-kwargs"})
    assert settings.cdf.project == "from-kwargs"
    assert settings.cdf.base_url == "https://westeurope-1.cognitedata.com"


def test_a_bad_value_raises_configuration_error_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PLEX_COGNITE_PLEX__MAX_CONCURRENCY", "lots")
    with pytest.raises(ConfigurationError) as raised:
        ExtractorSettings()
    assert raised.value.field == "plex.max_concurrency"
    message = str(raised.value)
    assert "plex.max_concurrency" in message
    assert "PLEX_COGNITE_PLEX__MAX_CONCURRENCY" in message
    assert "env-plex-key-123" not in message
    assert "env-cdf-token-456" not in message


def test_missing_settings_say_which_variable_to_set() -> None:
    with pytest.raises(ConfigurationError) as raised:
        ExtractorSettings()
    message = str(raised.value)
    assert "plex: required setting is missing" in message
    assert "PLEX_COGNITE_PLEX" in message


def test_a_bad_secret_is_reported_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PLEX_COGNITE_CDF__CLIENT_SECRET", "sup3r-s3cret-value")  # token and secret: two auth modes
    with pytest.raises(ConfigurationError) as raised:
        ExtractorSettings()
    assert "cdf" in str(raised.value)
    assert "sup3r-s3cret-value" not in str(raised.value)
    assert "env-cdf-token-456" not in str(raised.value)


def test_an_unset_variable_in_the_yaml_names_its_path(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = isolated / "c.yaml"
    path.write_text(yaml.safe_dump({"plex": {"api_key": "${NOT_SET_ANYWHERE}"}}), encoding="utf-8")
    monkeypatch.setenv("PLEX_COGNITE_CONFIG", str(path))
    with pytest.raises(ConfigurationError, match=r"plex\.api_key: environment variable NOT_SET_ANYWHERE"):
        ExtractorSettings()
