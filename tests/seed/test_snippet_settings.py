"""Quick Start, settings: `ExtractorSettings()` with no arguments, as users write it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from plex_cognite.errors import ConfigurationError

DOT_ENV = """\
PLEX_COGNITE_PLEX__API_KEY=qs-plex-api-key-0001
PLEX_COGNITE_PLEX__PCNS=340884
PLEX_COGNITE_CDF__BASE_URL=https://westeurope-1.cognitedata.com
PLEX_COGNITE_CDF__PROJECT=acme-prod
PLEX_COGNITE_CDF__CLIENT_ID=plex-extractor
PLEX_COGNITE_CDF__CLIENT_SECRET=qs-cdf-client-secret-0002
PLEX_COGNITE_CDF__TOKEN_URL=https://login.microsoftonline.com/acme/oauth2/v2.0/token
PLEX_COGNITE_EXTRACTION__START=2025-01-01T00:00:00Z
"""


@pytest.fixture(autouse=True)
def project_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A user's project directory holding `.env`, with no PLEX_COGNITE_* variables in the shell."""
    for name in list(os.environ):
        if name.startswith("PLEX_COGNITE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(DOT_ENV, encoding="utf-8")
    return tmp_path


def test_settings_snippet_loads_dot_env_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEX_COGNITE_EXTRACTION__BATCH_SIZE", "500")

    # --- the user's snippet ---
    from plex_cognite import ExtractorSettings

    settings = ExtractorSettings()
    print(settings.plex.pcns, settings.cdf.project)
    # --- end of snippet ---

    assert settings.plex.pcns == ["340884"]
    assert settings.cdf.project == "acme-prod"
    assert settings.cdf.auth_mode == "client_credentials"
    assert settings.extraction.batch_size == 500  # the environment, on top of .env
    assert isinstance(settings.plex.api_key, SecretStr)
    assert settings.plex.api_key.get_secret_value() == "qs-plex-api-key-0001"
    assert "qs-plex-api-key-0001" not in repr(settings)
    assert "qs-cdf-client-secret-0002" not in repr(settings)


def test_settings_snippet_reports_a_bad_value_by_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEX_COGNITE_PLEX__PCNS", "340884,not-a-pcn")
    from plex_cognite import ExtractorSettings

    with pytest.raises(ConfigurationError) as raised:
        ExtractorSettings()
    assert raised.value.field == "plex.pcns[1]"
    assert "plex.pcns[1]" in str(raised.value)
    assert "qs-plex-api-key-0001" not in str(raised.value)
    assert "qs-cdf-client-secret-0002" not in str(raised.value)


def test_settings_snippet_reads_the_yaml_named_by_plex_cognite_config(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project_dir / "extractor.yaml").write_text(
        "plex:\n  pcns: ['340884', '79870']\n  retry: {max_attempts: 3, initial_delay: 1.0}\n"
        "extraction:\n  start: ${HISTORY_START:-2024-06-01}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PLEX_COGNITE_CONFIG", str(project_dir / "extractor.yaml"))
    monkeypatch.delenv("PLEX_COGNITE_PLEX__PCNS", raising=False)
    (project_dir / ".env").write_text(
        "\n".join(line for line in DOT_ENV.splitlines() if "PCNS" not in line and "START" not in line),
        encoding="utf-8",
    )
    from plex_cognite import ExtractorSettings

    settings = ExtractorSettings()
    assert settings.plex.pcns == ["340884", "79870"]
    assert settings.plex.retry.initial_delay == 1.0
    assert settings.extraction.start.year == 2024
    assert settings.plex.api_key.get_secret_value() == "qs-plex-api-key-0001"  # .env still applies
