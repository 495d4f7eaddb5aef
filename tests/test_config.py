"""Settings: YAML files with ${VAR} substitution, environment overrides, validation that names the field."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from plex_cognite.config import (
    DEFAULT_STREAMS,
    CogniteSettings,
    ExtractorSettings,
    LoggingSettings,
    PlexSettings,
    load_settings,
)
from plex_cognite.errors import ConfigurationError

DATA = Path(__file__).parent / "data" / "config"

MINIMAL: dict[str, dict[str, Any]] = {
    "plex": {"api_key": "test-key", "pcns": ["340884"]},
    "cdf": {"base_url": "https://api.cognitedata.com", "project": "my-project", "token": "test-token"},
    "extraction": {"start": "2025-01-01T00:00:00Z"},
}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PLEX_COGNITE_* variables from the caller's shell, and no stray .env in the working directory."""
    for name in list(os.environ):
        if name.startswith("PLEX_COGNITE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_yaml(directory: Path, data: object, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def with_changes(**sections: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, dict[str, Any]] = {key: dict(value) for key, value in MINIMAL.items()}
    for section, values in sections.items():
        data[section] = {**data.get(section, {}), **values}
    return data


def config_error(path: Path) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        load_settings(path)
    return info.value


# --- good files --------------------------------------------------------------------------------------------------


def test_complete_file_loads_every_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEX_API_KEY", "plex-secret-key")
    monkeypatch.setenv("PLEX_DS_USER", "ds-user")
    monkeypatch.setenv("PLEX_DS_PASSWORD", "ds-password")
    monkeypatch.setenv("CDF_CLIENT_SECRET", "cdf-client-secret")

    s = load_settings(DATA / "good_full.yaml")

    assert s.plex.base_url == "https://connect.plex.com"
    assert s.plex.api_key.get_secret_value() == "plex-secret-key"
    assert s.plex.pcns == ["340884", "0012"]
    assert s.plex.tenant_ids == {"0012": "4f3c2a1e-0000-4000-8000-000000000001"}
    assert (s.plex.rate_limit_per_minute, s.plex.rate_limit_burst, s.plex.http2) == (180, 10, False)
    assert (s.plex.retry.max_attempts, s.plex.breaker.failure_threshold) == (4, 3)
    assert s.plex.datasource is not None
    assert s.plex.datasource.password.get_secret_value() == "ds-password"
    assert s.cdf.auth_mode == "client_credentials"
    assert s.cdf.client_id == "plex-extractor"  # ${CDF_CLIENT_ID:-plex-extractor}
    assert s.cdf.scopes == ["https://api.cognitedata.com/.default"]
    assert s.extraction.streams == ["master_data", "jobs", "production"]
    assert s.extraction.start == datetime(2024, 12, 31, 22, tzinfo=UTC)  # +02:00 normalised to UTC
    assert s.extraction.end == datetime(2025, 2, 1, tzinfo=UTC)  # a bare date is midnight UTC
    assert (s.extraction.window, s.extraction.interval) == (timedelta(days=1), timedelta(minutes=30))
    assert s.extraction.on_missing_asset == "skip_link"
    assert (s.state.backend, s.dead_letters.backend, s.cache.backend) == ("redis", "raw", "tiered")
    assert (s.metrics.enabled, s.metrics.port) == (True, 0)
    assert (s.logging.level, s.logging.json) == ("DEBUG", True)


def test_minimal_file_takes_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEX_API_KEY", "k")
    monkeypatch.setenv("CDF_TOKEN", "t")

    s = load_settings(DATA / "good_minimal.yaml")

    assert s.plex.base_url == "https://connect.plex.com"
    assert s.plex.rate_limit_per_minute == 200
    assert s.plex.timeout_s == 120
    assert s.cdf.auth_mode == "token"
    assert s.extraction.streams == list(DEFAULT_STREAMS)
    assert s.extraction.end is None
    assert s.extraction.window == timedelta(days=1)
    assert s.extraction.interval == timedelta(hours=1)
    assert s.state.path == Path("plex-cognite-state.json")
    assert s.dead_letters.raw_table == "dead_letters"
    assert (s.cache.backend, s.cache.ttl_s) == ("memory", 86400)
    assert (s.metrics.enabled, s.metrics.host, s.metrics.port) == (False, "127.0.0.1", 9108)
    assert (s.logging.level, s.logging.json) == ("INFO", None)


def test_secrets_never_appear_in_repr_str_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "PLEX_API_KEY": "secret-plex-key-1",
        "PLEX_DS_USER": "secret-ds-user-2",
        "PLEX_DS_PASSWORD": "secret-ds-password-3",
        "CDF_CLIENT_SECRET": "secret-client-secret-4",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)

    s = load_settings(DATA / "good_full.yaml")

    for text in (repr(s), str(s), s.model_dump_json(), repr(s.model_dump())):
        for value in secrets.values():
            assert value not in text


# --- bad files: one clear line naming the field ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field", "expected"),
    [
        ("bad_missing_key.yaml", "cdf.project", "required setting is missing"),
        ("bad_wrong_type.yaml", "extraction.batch_size", "valid integer"),
        ("bad_unset_env.yaml", "plex.api_key", "PLEX_COGNITE_TEST_UNSET_VARIABLE is not set"),
        ("bad_pcn.yaml", "plex.pcns[1]", "a PCN is 1 to 10 digits"),
        ("bad_two_auth_modes.yaml", "cdf", "two auth modes are set"),
        ("bad_unknown_stream.yaml", "extraction.streams[1]", "did you mean 'production'?"),
        ("bad_unknown_key.yaml", "plex.rate_limit_per_minut", "did you mean 'rate_limit_per_minute'?"),
        ("bad_url.yaml", "plex.base_url", "http:// or https:// URL with a host"),
    ],
)
def test_bad_file_gives_one_line_naming_the_field(name: str, field: str, expected: str) -> None:
    error = config_error(DATA / name)

    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{DATA / name}: {field}: ")
    assert expected in message
    assert error.field == field


def test_several_problems_are_listed_one_per_line() -> None:
    error = config_error(DATA / "bad_many.yaml")

    lines = str(error).splitlines()
    assert lines[0].endswith("2 problems")
    assert lines[1].strip().startswith("plex.rate_limit_per_minute: input should be less than or equal to 10000")
    assert lines[2].strip().startswith("extraction.window: must be greater than zero")


def test_secret_is_not_echoed_in_a_validation_error() -> None:
    error = config_error(DATA / "bad_two_auth_modes.yaml")
    assert "do-not-leak-this-secret" not in str(error)


def test_wrong_type_for_a_secret_does_not_show_the_value(isolated_env: Path) -> None:
    path = write_yaml(isolated_env, with_changes(cdf={"token": 98765432123}))
    message = str(config_error(path))
    assert "cdf.token" in message
    assert "98765432123" not in message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad_duplicate_key.yaml", "key 'pcns' appears twice"),
        ("bad_yaml_syntax.yaml", "line 3, column 4: invalid YAML"),
        ("does_not_exist.yaml", "config file not found"),
    ],
)
def test_unreadable_files_are_configuration_errors(name: str, expected: str) -> None:
    assert expected in str(config_error(DATA / name))


def test_a_file_that_is_not_a_mapping_is_refused(isolated_env: Path) -> None:
    path = write_yaml(isolated_env, ["plex"])
    assert "must be a mapping of sections" in str(config_error(path))


# --- ${VAR} substitution -----------------------------------------------------------------------------------------


def test_substitution_forms(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv("PCN_A", "340884")
    monkeypatch.setenv("EMPTY", "")
    monkeypatch.delenv("UNSET_FOR_TEST", raising=False)
    data = with_changes(
        plex={"pcns": ["${PCN_A}", "${UNSET_FOR_TEST:-12}", "${EMPTY:-7}"], "api_key": "$${NOT_A_VAR}"},
        cdf={"project": "p-${EMPTY-x}-${UNSET_FOR_TEST-y}"},
    )

    s = load_settings(write_yaml(isolated_env, data))

    assert s.plex.pcns == ["340884", "12", "7"]
    assert s.plex.api_key.get_secret_value() == "${NOT_A_VAR}"
    assert s.cdf.project == "p--y"  # ${VAR-default} uses the default only when VAR is unset


def test_reference_expanding_to_empty_means_not_set(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.delenv("CDF_TOKEN_UNSET_FOR_TEST", raising=False)
    data = with_changes(
        cdf={
            "token": "${CDF_TOKEN_UNSET_FOR_TEST:-}",
            "client_id": "c",
            "client_secret": "s",
            "token_url": "https://login.example.com/token",
        }
    )

    assert load_settings(write_yaml(isolated_env, data)).cdf.auth_mode == "client_credentials"


def test_every_unset_variable_is_reported_with_its_path(isolated_env: Path) -> None:
    data = with_changes(plex={"api_key": "${NOPE_ONE}", "pcns": ["${NOPE_TWO}"]})
    message = str(config_error(write_yaml(isolated_env, data)))
    assert "plex.api_key: environment variable NOPE_ONE is not set" in message
    assert "plex.pcns[0]: environment variable NOPE_TWO is not set" in message


def test_malformed_reference_is_reported(isolated_env: Path) -> None:
    data = with_changes(plex={"api_key": "${1BAD}"})
    assert "plex.api_key: malformed reference '${1BAD}'" in str(config_error(write_yaml(isolated_env, data)))


def test_dotenv_feeds_substitution_and_settings(isolated_env: Path) -> None:
    (isolated_env / ".env").write_text(
        "PLEX_KEY_FROM_DOTENV=dotenv-key\nPLEX_COGNITE_PLEX__TIMEOUT_S=33\n", encoding="utf-8"
    )
    data = with_changes(plex={"api_key": "${PLEX_KEY_FROM_DOTENV}"})

    s = load_settings(write_yaml(isolated_env, data))

    assert s.plex.api_key.get_secret_value() == "dotenv-key"
    assert s.plex.timeout_s == 33


# --- sources and priorities --------------------------------------------------------------------------------------


def test_environment_overrides_file_and_dotenv(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    (isolated_env / ".env").write_text("PLEX_COGNITE_PLEX__RATE_LIMIT_PER_MINUTE=100\n", encoding="utf-8")
    monkeypatch.setenv("PLEX_COGNITE_PLEX__RATE_LIMIT_PER_MINUTE", "300")
    monkeypatch.setenv("PLEX_COGNITE_PLEX__PCNS", "1, 22,333")
    monkeypatch.setenv("PLEX_COGNITE_EXTRACTION__STREAMS", '["jobs", "scrap"]')
    path = write_yaml(isolated_env, with_changes(plex={"rate_limit_per_minute": 50}))

    s = load_settings(path)

    assert s.plex.rate_limit_per_minute == 300
    assert s.plex.pcns == ["1", "22", "333"]
    assert s.extraction.streams == ["jobs", "scrap"]
    assert s.plex.api_key.get_secret_value() == "test-key"  # the rest of the section still comes from the file


def test_keyword_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv("PLEX_COGNITE_PLEX__TIMEOUT_S", "30")
    s = load_settings(write_yaml(isolated_env, MINIMAL), plex={"timeout_s": 5}, env_file=None)
    assert s.plex.timeout_s == 5
    assert s.plex.pcns == ["340884"]


def test_environment_only_and_config_path_variable(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv("PLEX_COGNITE_CONFIG", str(write_yaml(isolated_env, MINIMAL)))
    assert load_settings().plex.pcns == ["340884"]

    monkeypatch.delenv("PLEX_COGNITE_CONFIG")
    (isolated_env / ".env").write_text(f"PLEX_COGNITE_CONFIG={isolated_env / 'config.yaml'}\n", encoding="utf-8")
    assert load_settings().plex.pcns == ["340884"]

    (isolated_env / ".env").unlink()
    monkeypatch.setenv("PLEX_COGNITE_PLEX__API_KEY", "k")
    monkeypatch.setenv("PLEX_COGNITE_PLEX__PCNS", "42")
    monkeypatch.setenv("PLEX_COGNITE_CDF__BASE_URL", "https://api.cognitedata.com")
    monkeypatch.setenv("PLEX_COGNITE_CDF__PROJECT", "p")
    monkeypatch.setenv("PLEX_COGNITE_CDF__TOKEN", "t")
    monkeypatch.setenv("PLEX_COGNITE_EXTRACTION__START", "2025-01-01")
    assert load_settings().plex.pcns == ["42"]


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv("PLEX_COGNITE_PLEX__MAX_CONCURRENCY", "many")
    message = str(config_error(write_yaml(isolated_env, MINIMAL)))
    assert "plex.max_concurrency" in message
    assert "PLEX_COGNITE_PLEX__MAX_CONCURRENCY" in message


def test_model_validate_needs_no_environment() -> None:
    s = ExtractorSettings.model_validate(MINIMAL)
    assert s.plex.pcns == ["340884"]
    assert s.extraction.start == datetime(2025, 1, 1, tzinfo=UTC)


def test_alias_names_are_accepted(isolated_env: Path) -> None:
    data = with_changes(plex={"rate_limit": 99}, cdf={"host": "https://westeurope-1.cognitedata.com"})
    data["cdf"].pop("base_url")
    s = load_settings(write_yaml(isolated_env, data))
    assert s.plex.rate_limit_per_minute == 99
    assert s.cdf.base_url == "https://westeurope-1.cognitedata.com"


def test_unknown_section_gets_a_hint(isolated_env: Path) -> None:
    data = {**MINIMAL, "extracton": {}}
    assert "extracton: unknown setting 'extracton'; did you mean 'extraction'?" in str(
        config_error(write_yaml(isolated_env, data))
    )


# --- field rules -------------------------------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=1, max_size=10))
@settings(max_examples=60, deadline=None)
def test_any_digit_string_pcn_round_trips(pcn: str) -> None:
    assert PlexSettings(api_key=SecretStr("k"), pcns=[pcn]).pcns == [pcn]
    with tempfile.TemporaryDirectory() as directory:
        path = write_yaml(Path(directory), with_changes(plex={"pcns": [pcn]}))
        assert load_settings(path, env_file=None).plex.pcns == [pcn]


@given(
    st.one_of(
        st.text(min_size=1, max_size=12).filter(lambda s: not (s.isascii() and s.isdigit() and len(s) <= 10)),
        st.text(alphabet="0123456789", min_size=11, max_size=20),
    )
)
@settings(max_examples=60, deadline=None)
def test_anything_else_is_not_a_pcn(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"plex\.pcns\[0\]"):
        load_settings(plex={"api_key": "k", "pcns": [text]}, cdf=MINIMAL["cdf"], extraction=MINIMAL["extraction"])


def test_unquoted_pcn_asks_for_quotes(isolated_env: Path) -> None:
    path = isolated_env / "config.yaml"
    path.write_text(yaml.safe_dump(MINIMAL).replace("- '340884'", "- 340884"), encoding="utf-8")
    assert 'plex.pcns[0]: a PCN must be a quoted string of digits, e.g. "340884"' in str(config_error(path))


def test_duplicate_pcn_and_foreign_tenant_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"plex\.pcns: PCN 1 is listed twice"):
        load_settings(plex={"api_key": "k", "pcns": ["1", "1"]}, cdf=MINIMAL["cdf"], extraction=MINIMAL["extraction"])
    with pytest.raises(ConfigurationError, match=r"tenant_ids has PCNs that are not in pcns: 2"):
        load_settings(
            plex={"api_key": "k", "pcns": ["1"], "tenant_ids": {"2": "4f3c2a1e-0000-4000-8000-000000000001"}},
            cdf=MINIMAL["cdf"],
            extraction=MINIMAL["extraction"],
        )
    with pytest.raises(ConfigurationError, match=r"plex\.tenant_ids: a tenant id is a UUID"):
        load_settings(
            plex={"api_key": "k", "pcns": ["1"], "tenant_ids": {"1": "nope"}},
            cdf=MINIMAL["cdf"],
            extraction=MINIMAL["extraction"],
        )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1d", timedelta(days=1)),
        ("6h", timedelta(hours=6)),
        ("30m", timedelta(minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("1h30m", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("2w", timedelta(weeks=2)),
        ("P1D", timedelta(days=1)),
        ("PT6H", timedelta(hours=6)),
        (90, timedelta(seconds=90)),
        ("90", timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
    ],
)
def test_window_formats(value: object, expected: timedelta) -> None:
    s = ExtractorSettings.model_validate(with_changes(extraction={"window": value}))
    assert s.extraction.window == expected


@pytest.mark.parametrize("value", [0, "0s", "-1h", "P0D", "soon"])
def test_window_must_be_a_positive_duration(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"extraction\.window"):
        load_settings(env_file=None, **with_changes(extraction={"window": value}))


def test_lookback_is_off_by_default() -> None:
    assert ExtractorSettings.model_validate(MINIMAL).extraction.lookback == timedelta(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, timedelta(0)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("P0D", timedelta(0)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(minutes=90)),
        ("PT6H", timedelta(hours=6)),
        (3600, timedelta(hours=1)),
    ],
)
def test_lookback_formats(isolated_env: Path, value: object, expected: timedelta) -> None:
    s = load_settings(write_yaml(isolated_env, with_changes(extraction={"lookback": value})))
    assert s.extraction.lookback == expected


@pytest.mark.parametrize("value", [-5, "-1", "-PT1H", "-1h", "soon", [1]])
def test_lookback_must_be_a_non_negative_duration(isolated_env: Path, value: object) -> None:
    error = config_error(write_yaml(isolated_env, with_changes(extraction={"lookback": value})))
    assert re.search(r"(^|: |\n)extraction\.lookback: ", str(error)), str(error)


def test_negative_lookback_says_what_is_allowed() -> None:
    with pytest.raises(ConfigurationError, match=r"extraction\.lookback: must be zero \(off\) or more"):
        load_settings(env_file=None, **with_changes(extraction={"lookback": -60}))


def test_misspelt_lookback_gets_a_hint(isolated_env: Path) -> None:
    data = with_changes(extraction={"look_back": "1d"})
    assert "extraction.look_back: unknown setting 'look_back'; did you mean 'lookback'?" in str(
        config_error(write_yaml(isolated_env, data))
    )


def test_lookback_from_the_environment(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv("PLEX_COGNITE_EXTRACTION__LOOKBACK", "12h")
    assert load_settings(write_yaml(isolated_env, MINIMAL)).extraction.lookback == timedelta(hours=12)


def test_naive_datetimes_are_utc_and_end_must_follow_start() -> None:
    s = ExtractorSettings.model_validate(with_changes(extraction={"start": datetime(2025, 3, 1, 12)}))
    assert s.extraction.start == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert s.extraction.start.tzinfo is UTC
    with pytest.raises(ConfigurationError, match=r"extraction: end \(2024-01-01T00:00:00\+00:00\) must be after start"):
        load_settings(env_file=None, **with_changes(extraction={"end": "2024-01-01T00:00:00Z"}))


@pytest.mark.parametrize("rate", [0, 10_001])
def test_rate_limit_bounds(rate: int) -> None:
    with pytest.raises(ConfigurationError, match=r"plex\.rate_limit_per_minute"):
        load_settings(env_file=None, **with_changes(plex={"rate_limit_per_minute": rate}))


@pytest.mark.parametrize(
    ("cdf", "expected"),
    [
        ({}, "no auth mode is set"),
        ({"client_id": "c", "client_secret": "s"}, "client credentials are incomplete: token_url missing"),
        ({"client_id": "c", "token": "t"}, "two auth modes are set (token and client_id)"),
        ({"token": "t", "scopes": ["x"]}, "scopes only apply to client credentials"),
        ({"token": "t", "token_url": "ftp://x"}, "cdf.token_url: must be an http:// or https:// URL"),
        ({"token": "t", "data_set_id": 1, "data_set_external_id": "x"}, "set only one of data_set_id"),
    ],
)
def test_cdf_auth_rules(cdf: dict[str, object], expected: str) -> None:
    base = {"base_url": "https://api.cognitedata.com", "project": "p"}
    with pytest.raises(ConfigurationError) as info:
        load_settings(env_file=None, plex=MINIMAL["plex"], extraction=MINIMAL["extraction"], cdf={**base, **cdf})
    assert expected in str(info.value)


def test_client_credentials_accept_the_secret_alias() -> None:
    cdf = CogniteSettings.model_validate(
        {
            "base_url": "https://x.cognitedata.com",
            "project": "p",
            "client_id": "c",
            "secret": "s",
            "token_url": "https://l/t",
        }
    )
    assert cdf.auth_mode == "client_credentials"
    assert cdf.client_secret is not None
    assert cdf.client_secret.get_secret_value() == "s"


@pytest.mark.parametrize(
    ("section", "values", "expected"),
    [
        ("state", {"backend": "redis"}, "state: backend redis needs redis_url"),
        ("cache", {"backend": "tiered"}, "cache: backend tiered needs redis_url"),
        ("cache", {"backend": "redis", "redis_url": "http://x"}, "cache.redis_url: must be a redis://"),
        ("state", {"backend": "redis", "redis_url": "ftp://x"}, "state.redis_url: must be a redis://"),
        ("logging", {"level": "loud"}, "logging.level: unknown log level 'loud'"),
        ("extraction", {"streams": ["jobs", "jobs"]}, "extraction.streams: a stream is listed twice"),
    ],
)
def test_section_rules(section: str, values: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(env_file=None, **with_changes(**{section: values}))
    assert expected in str(info.value)


def test_logging_settings_accept_warn_and_json() -> None:
    logging_settings = LoggingSettings.model_validate({"level": "warn", "json": False})
    assert (logging_settings.level, logging_settings.json) == ("WARNING", False)
    assert logging_settings.model_dump(by_alias=True) == {"level": "WARNING", "json": False}


def test_unknown_key_inside_an_optional_section_gets_a_hint(isolated_env: Path) -> None:
    data = with_changes(plex={"datasource": {"usrname": "u", "password": "p"}})
    message = str(config_error(write_yaml(isolated_env, data)))
    assert "plex.datasource.usrname: unknown setting 'usrname'; did you mean 'username'?" in message


def test_malformed_environment_values_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    path = write_yaml(isolated_env, MINIMAL)
    monkeypatch.setenv("PLEX_COGNITE_PLEX__PCNS", "[1, 2")
    assert "plex.pcns: not a valid JSON array" in str(config_error(path))
    monkeypatch.delenv("PLEX_COGNITE_PLEX__PCNS")
    monkeypatch.setenv("PLEX_COGNITE_PLEX__TENANT_IDS", "{not json")
    assert "must be JSON" in str(config_error(path))


@given(
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from([("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604800)]),
)
@settings(max_examples=60, deadline=None)
def test_any_positive_duration_string_is_read_exactly(count: int, unit: tuple[str, int]) -> None:
    suffix, seconds = unit
    s = ExtractorSettings.model_validate(with_changes(extraction={"window": f"{count}{suffix}", "interval": count}))
    assert s.extraction.window == timedelta(seconds=count * seconds)
    assert s.extraction.interval == timedelta(seconds=count)
