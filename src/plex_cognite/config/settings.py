"""Typed settings for plex-cognite, loaded from YAML, environment variables and `.env`.

`load_settings(path)` is the one entry point most users need:

```python
from plex_cognite.config import load_settings

settings = load_settings("config.yaml")
settings.plex.pcns          # ["340884"]
settings.cdf.auth_mode      # "token" or "client_credentials"
```

Sources, lowest priority first: the YAML file (with `${VAR}` / `${VAR:-default}` substitution), then `.env`, then
environment variables (`PLEX_COGNITE_` prefix, `__` between levels: `PLEX_COGNITE_PLEX__API_KEY`), then keyword
overrides passed to `load_settings`. Every problem is raised as one `ConfigurationError` whose message names the
YAML path of the setting (`plex.pcns[1]`) and what to do about it. Secrets are `SecretStr`: they never appear in
`repr`, `str`, logs or error messages.
"""

from __future__ import annotations

import difflib
import re
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)
from pydantic import model_validator as _model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from plex_cognite.config._datasources import (
    DataSourceAccount,
    DataSourceSettings,
    DataSourceStream,
    DataSourceWindow,
    check_accounts,
    check_unique_names,
)
from plex_cognite.config._loader import YamlSource, load, loading, loading_in_progress
from plex_cognite.config._types import (
    HttpUrlStr,
    NonNegativeDuration,
    PcnList,
    PositiveDuration,
    StrList,
    UtcDatetime,
    split_list,
    validate_pcn,
    validate_tenant_id,
)

__all__ = [
    "DATASOURCE_STREAM_PREFIX",
    "DEFAULT_STREAMS",
    "EXTRACTOR_ENTRY_POINT_GROUP",
    "KNOWN_STREAMS",
    "BreakerSettings",
    "CacheSettings",
    "CogniteSettings",
    "DataModelingSettings",
    "DataSourceAccount",
    "DataSourceSettings",
    "DataSourceStream",
    "DataSourceWindow",
    "DeadLetterSettings",
    "ExtractionSettings",
    "ExtractorSettings",
    "LoggingSettings",
    "MetricsSettings",
    "PlexSettings",
    "RetrySettings",
    "SinkKind",
    "StateSettings",
    "StreamName",
    "load_settings",
]

#: The built-in streams (data sources add `datasource:<name>` streams from `extraction.datasources`).
StreamName: TypeAlias = Literal[
    "master_data", "jobs", "production", "scrap", "workcenter_status", "inventory", "container_moves"
]
#: Every built-in stream, in the order they run.
KNOWN_STREAMS: tuple[StreamName, ...] = (
    "master_data",
    "jobs",
    "production",
    "scrap",
    "workcenter_status",
    "inventory",
    "container_moves",
)
#: The streams run when `extraction.streams` is not set (plus every configured data source); the inventory streams
#: are opt-in, since `inventory` deletes RAW rows of containers that left the snapshot.
DEFAULT_STREAMS: tuple[StreamName, ...] = ("master_data", "jobs", "production", "scrap", "workcenter_status")
#: The prefix of data-source stream names: `datasource:<name>` for each `extraction.datasources` entry.
DATASOURCE_STREAM_PREFIX = "datasource:"
#: The entry-point group installed packages register their extractors under (the entry point's name is the stream).
EXTRACTOR_ENTRY_POINT_GROUP = "plex_cognite.extractors"


def _known_stream(name: str) -> str:
    """Accept a built-in stream, a data-source stream, or one an installed package registered; else say what is known.

    A `datasource:<name>` stream must name an `extraction.datasources` entry (checked with the whole section).
    """
    if name in KNOWN_STREAMS or name.startswith(DATASOURCE_STREAM_PREFIX):
        return name
    registered = sorted(ep.name for ep in entry_points(group=EXTRACTOR_ENTRY_POINT_GROUP))
    if name in registered:
        return name
    known = [*KNOWN_STREAMS, *registered]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ValueError(
        f"unknown stream '{name}'{hint} (known: {', '.join(known)}; installed packages add more under the "
        f"entry-point group '{EXTRACTOR_ENTRY_POINT_GROUP}')"
    )


#: Which CDF sinks a run writes: the classic resources, Core Data Model nodes, or both.
SinkKind: TypeAlias = Literal["classic", "datamodeling", "both"]

_SPACE = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]{0,41}[a-zA-Z0-9]?")
_RESERVED_SPACES = frozenset({"space", "cdf", "dms", "pg3", "shared", "system", "node", "edge"})

_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class _Section(BaseModel):
    """Base of every settings section: unknown keys are errors, renamed keys keep their old names as aliases."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)


class RetrySettings(_Section):
    """Retry policy for Plex calls (CDF calls are retried by the cognite-sdk itself)."""

    max_attempts: int = Field(6, ge=1, le=100, description="Attempts per call, the first one included.")
    initial_delay: float = Field(
        0.5,
        ge=0,
        validation_alias=AliasChoices("initial_delay", "initial_wait_s"),
        description="First wait in seconds (jitter only adds to it); later waits double. Alias: initial_wait_s.",
    )
    max_delay: float = Field(
        60.0,
        gt=0,
        validation_alias=AliasChoices("max_delay", "max_wait_s"),
        description="Largest single wait in seconds. Alias: max_wait_s.",
    )
    deadline_s: float = Field(900.0, gt=0, description="Give up on a call after this many seconds in total.")

    @property
    def initial_wait_s(self) -> float:
        """Alias of `initial_delay`."""
        return self.initial_delay

    @property
    def max_wait_s(self) -> float:
        """Alias of `max_delay`."""
        return self.max_delay


class BreakerSettings(_Section):
    """Circuit breaker for one upstream API."""

    failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open the breaker.")
    reset_timeout_s: float = Field(30.0, gt=0, description="Seconds an open breaker waits before a trial call.")
    half_open_max_calls: int = Field(1, ge=1, description="Trial calls allowed while half open.")
    success_threshold: int = Field(1, ge=1, description="Successful trial calls that close the breaker.")


class PlexSettings(_Section):
    """Plex Connect REST API: credentials, PCNs and how hard to push."""

    base_url: HttpUrlStr = "https://connect.plex.com"
    api_key: SecretStr = Field(description="Sent as X-Plex-Connect-Api-Key; never a query parameter.")
    pcns: PcnList = Field(min_length=1, description='PCNs to extract, digits as strings (`"340884"`).')
    tenant_ids: dict[str, str] = Field(
        default_factory=dict,
        description="PCN -> tenant UUID; for those PCNs X-Plex-Connect-Tenant-Id is sent instead of the PCN.",
    )
    rate_limit_per_minute: int = Field(
        200,
        ge=1,
        le=10_000,
        validation_alias=AliasChoices("rate_limit_per_minute", "rate_limit"),
        description="Calls per minute across the process (Plex default 200).",
    )
    rate_limit_burst: int | None = Field(None, ge=1, description="Token bucket size; None: the limiter default.")
    timeout_s: float = Field(120.0, gt=0, description="Read timeout per request in seconds.")
    connect_timeout_s: float = Field(10.0, gt=0)
    connect_budget_s: float = Field(
        10.0, ge=0, description="Seconds `run` and `check` keep retrying a refused connection before failing."
    )
    max_concurrency: int = Field(4, ge=1, le=256, description="Concurrent Plex requests.")
    http2: bool = True
    retry: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    min_window_s: float = Field(60.0, gt=0, description="Smallest history window when a window is split.")
    datasource: DataSourceSettings | None = None

    @field_validator("pcns")
    @classmethod
    def _unique_pcns(cls, pcns: list[str]) -> list[str]:
        seen: set[str] = set()
        for index, pcn in enumerate(pcns):
            if pcn in seen:
                raise ValueError(f"PCN {pcn} is listed twice (item {index}); list each PCN once")
            seen.add(pcn)
        return pcns

    @field_validator("tenant_ids", mode="before")
    @classmethod
    def _check_tenant_ids(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {validate_pcn(k): validate_tenant_id(str(v)) for k, v in value.items()}

    @_model_validator(mode="after")
    def _tenants_belong_to_pcns(self) -> PlexSettings:
        unknown = sorted(set(self.tenant_ids) - set(self.pcns))
        if unknown:
            raise ValueError(f"tenant_ids has PCNs that are not in pcns: {', '.join(unknown)}; add them to pcns")
        if self.datasource is not None:
            strangers = sorted(set(self.datasource.credentials) - set(self.pcns))
            if strangers:
                raise ValueError(
                    f"datasource.credentials has PCNs that are not in pcns: {', '.join(strangers)}; add them to pcns"
                )
        return self


class DataModelingSettings(_Section):
    """Where the Core Data Model sink writes (`cdf.sink: datamodeling | both`)."""

    instance_space: str = Field(
        "plex", description="Instance space of the nodes (created on first write when missing)."
    )

    @field_validator("instance_space")
    @classmethod
    def _check_space(cls, value: str) -> str:
        if not _SPACE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a valid space: 1 to 43 letters, digits, '_' or '-', starting with a letter"
            )
        if value in _RESERVED_SPACES or value.startswith("cdf_"):
            raise ValueError(f"{value!r} is reserved by CDF; choose another instance space (for example 'plex')")
        return value


class CogniteSettings(_Section):
    """Cognite Data Fusion: project and exactly one authentication mode.

    Either a static bearer `token`, or OAuth client credentials (`client_id` + `client_secret` + `token_url`,
    optionally `scopes`).
    """

    base_url: HttpUrlStr = Field(validation_alias=AliasChoices("base_url", "host"))
    project: str = Field(min_length=1)
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = Field(None, validation_alias=AliasChoices("client_secret", "secret"))
    token_url: HttpUrlStr | None = None
    scopes: StrList = Field(default_factory=list)
    client_name: str = "plex-cognite"
    timeout_s: float = Field(60.0, gt=0)
    connect_budget_s: float = Field(
        10.0, ge=0, description="Seconds `run` and `check` keep retrying a refused connection before failing."
    )
    data_set_external_id: str | None = None
    data_set_id: int | None = None
    write_concurrency: int = Field(4, ge=1, le=64)
    raw_database: str = Field("plex", min_length=1, description="RAW database for RAW rows extractors write.")
    sink: SinkKind = Field(
        "classic",
        description="classic (assets, events, time series), datamodeling (Core Data Model nodes) or both.",
    )
    datamodeling: DataModelingSettings = Field(default_factory=DataModelingSettings)

    @property
    def writes_classic(self) -> bool:
        """Whether the classic resources are written (`sink` is `classic` or `both`)."""
        return self.sink in ("classic", "both")

    @property
    def writes_nodes(self) -> bool:
        """Whether Core Data Model nodes are written (`sink` is `datamodeling` or `both`)."""
        return self.sink in ("datamodeling", "both")

    extraction_pipeline_external_id: str | None = Field(
        None, description="Report runs (success, failure, seen heartbeats) to this CDF extraction pipeline."
    )
    extraction_pipeline_heartbeat: PositiveDuration = Field(
        timedelta(minutes=10), description="Continuous mode: time between `seen` heartbeats to the pipeline."
    )

    @property
    def auth_mode(self) -> Literal["token", "client_credentials"]:
        """Which authentication mode these settings use (validation guarantees exactly one)."""
        return "token" if self.token is not None else "client_credentials"

    @_model_validator(mode="after")
    def _exactly_one_auth_mode(self) -> CogniteSettings:
        oauth = {"client_id": self.client_id, "client_secret": self.client_secret, "token_url": self.token_url}
        given = sorted(name for name, value in oauth.items() if value is not None)
        if self.token is not None and given:
            raise ValueError(
                f"two auth modes are set (token and {', '.join(given)}); keep either token, "
                "or client_id + client_secret + token_url"
            )
        if self.token is None and not given:
            raise ValueError("no auth mode is set; set token, or client_id + client_secret + token_url")
        if self.token is None and len(given) < len(oauth):
            missing = sorted(set(oauth) - set(given))
            raise ValueError(f"client credentials are incomplete: {', '.join(missing)} missing; set them or use token")
        if self.scopes and self.token is not None:
            raise ValueError("scopes only apply to client credentials; remove scopes or use client_id/client_secret")
        if self.data_set_id is not None and self.data_set_external_id is not None:
            raise ValueError("set only one of data_set_id and data_set_external_id")
        return self


class ExtractionSettings(_Section):
    """What to extract, from when, and in which windows."""

    streams: Annotated[list[Annotated[str, AfterValidator(_known_stream)]], NoDecode, BeforeValidator(split_list)] = (
        Field(
            default_factory=lambda: list[str](DEFAULT_STREAMS),
            min_length=1,
            description="Streams to run; default the five classic streams plus every configured data source.",
        )
    )
    start: UtcDatetime = Field(description="History start for windowed streams (naive values are read as UTC).")
    end: UtcDatetime | None = Field(None, description="History end; None = now.")
    window: PositiveDuration = Field(timedelta(days=1), description='Window length: "1d", "6h", "PT6H", seconds.')
    interval: PositiveDuration = Field(timedelta(hours=1), description="Pause between runs without --once.")
    lookback: NonNegativeDuration = Field(
        timedelta(0),
        description="Re-read this much of the most recent completed history on every run (late rows); 0 = off.",
    )
    on_missing_asset: Literal["defer", "skip_link", "fail"] = "defer"
    batch_size: int = Field(1000, ge=1, le=100_000)
    sink_concurrency: int = Field(4, ge=1, le=64)
    strict: bool = Field(False, description="Raise on a bad record instead of dead-lettering it.")
    tune_memory: bool = Field(
        True,
        description="During a run, collect garbage less often and skip objects older than the run (both restored "
        "after); on glibc, keep big buffers out of the heap and hand free heap pages back when the run ends.",
    )
    external_id_prefix: str = "PCN"
    datasources: list[DataSourceStream] = Field(
        default_factory=list, description="Plex Data Sources to extract into RAW, each as stream `datasource:<name>`."
    )

    @field_validator("datasources")
    @classmethod
    def _unique_datasource_names(cls, streams: list[DataSourceStream]) -> list[DataSourceStream]:
        return check_unique_names(streams)

    @field_validator("streams")
    @classmethod
    def _unique_streams(cls, streams: list[str]) -> list[str]:
        if len(set(streams)) != len(streams):
            raise ValueError("a stream is listed twice; list each stream once")
        return streams

    @_model_validator(mode="after")
    def _datasource_streams(self) -> ExtractionSettings:
        configured = [source.stream for source in self.datasources]
        unknown = [s for s in self.streams if s.startswith(DATASOURCE_STREAM_PREFIX) and s not in configured]
        if unknown:
            names = ", ".join(configured) or "none"
            raise ValueError(
                f"stream(s) {', '.join(unknown)} name no entry of extraction.datasources (configured: {names}); "
                "add the data source there or remove the stream"
            )
        if "streams" not in self.model_fields_set:
            # Not listed explicitly: every configured data source runs (list the streams to leave one out).
            self.streams = [*self.streams, *(s for s in configured if s not in self.streams)]
        return self

    @_model_validator(mode="after")
    def _end_after_start(self) -> ExtractionSettings:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()})")
        return self


def _redis_url_or_error(value: str | None) -> str | None:
    if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis://, rediss:// or unix:// URL, e.g. redis://localhost:6379/0")
    return value


class StateSettings(_Section):
    """Where extraction state (watermarks, content hashes) is kept."""

    backend: Literal["local", "raw", "redis"] = "local"
    path: Path = Path("./plex-cognite-state.json")
    raw_db: str = "plex_cognite"
    raw_table: str = "state"
    redis_url: str | None = None

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        return _redis_url_or_error(value)

    @_model_validator(mode="after")
    def _redis_needs_url(self) -> StateSettings:
        if self.backend == "redis" and self.redis_url is None:
            raise ValueError("backend redis needs redis_url, e.g. redis://localhost:6379/0")
        return self


class DeadLetterSettings(_Section):
    """Where rejected records go: local JSON lines or a CDF RAW table."""

    backend: Literal["local", "raw"] = "local"
    path: Path = Path("./plex-cognite-dead-letters.jsonl")
    raw_db: str = "plex_cognite"
    raw_table: str = "dead_letters"


class CacheSettings(_Section):
    """Cache for resolved CDF ids: in memory, in Redis, or both (tiered)."""

    backend: Literal["memory", "redis", "tiered"] = "memory"
    redis_url: str | None = None
    ttl_s: float = Field(86400.0, gt=0)
    negative_ttl_s: float = Field(60.0, ge=0)
    max_size: int = Field(1_000_000, ge=1)
    key_prefix: str = "plex-cognite"

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        return _redis_url_or_error(value)

    @_model_validator(mode="after")
    def _redis_needs_url(self) -> CacheSettings:
        if self.backend in ("redis", "tiered") and self.redis_url is None:
            raise ValueError(f"backend {self.backend} needs redis_url, e.g. redis://localhost:6379/0")
        return self


class MetricsSettings(_Section):
    """Prometheus /metrics, /healthz and /readyz endpoint, and an optional Pushgateway for `--once` runs."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535, description="0 picks a free port.")
    pushgateway_url: str | None = Field(
        None, description="Prometheus Pushgateway to push to after each --once run, e.g. http://pushgateway:9091."
    )
    pushgateway_job: str = Field("plex-cognite", min_length=1, description="The `job` grouping label of pushes.")
    pushgateway_instance: str | None = Field(
        None, description="The `instance` grouping label of pushes (one group per extractor deployment)."
    )
    ready_max_age: PositiveDuration | None = Field(
        None,
        description="/readyz turns 503 when the last successful pass is older than this; default twice "
        "extraction.interval.",
    )


class LoggingSettings(_Section):
    """Log level and format."""

    level: str = "INFO"
    json_: bool | None = Field(
        None,
        validation_alias=AliasChoices("json", "json_"),
        serialization_alias="json",
        description="JSON lines (True), console (False), or JSON unless stderr is a terminal (None).",
    )

    @field_validator("level", mode="before")
    @classmethod
    def _check_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            upper = value.strip().upper()
            if upper == "WARN":
                upper = "WARNING"
            if upper not in _LOG_LEVELS:
                raise ValueError(f"unknown log level {value!r}; use one of {', '.join(_LOG_LEVELS)}")
            return upper
        return value

    @property
    def json(self) -> bool | None:  # type: ignore[override]
        """The `json` setting (stored as `json_` because pydantic models have a deprecated `json` method)."""
        return self.json_


class ExtractorSettings(BaseSettings):
    """All settings of an extractor run.

    `ExtractorSettings()` loads them exactly as `load_settings()` does with no path: environment variables
    (`PLEX_COGNITE_PLEX__API_KEY`), `.env` in the working directory, and the YAML file named by
    `PLEX_COGNITE_CONFIG` when that is set (with `${VAR}` substitution). Keyword arguments (and the mapping given to
    `ExtractorSettings.model_validate`) take precedence over all of them, section by section. An invalid or
    missing setting raises `ConfigurationError` naming its path, never a raw pydantic error.

    ```python
    from plex_cognite import ExtractorSettings

    settings = ExtractorSettings()          # PLEX_COGNITE_* variables, .env, $PLEX_COGNITE_CONFIG
    ```

    Raises:
        ConfigurationError: A setting is missing or invalid, the YAML file is unreadable, or a `${VAR}` is unset.
    """

    model_config = SettingsConfigDict(
        env_prefix="PLEX_COGNITE_",
        env_nested_delimiter="__",
        env_file=None,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        nested_model_default_partial_update=True,
        dotenv_filtering="only_existing",
    )

    plex: PlexSettings
    cdf: CogniteSettings
    extraction: ExtractionSettings
    state: StateSettings = Field(default_factory=StateSettings)
    dead_letters: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    def __init__(self, **values: Any) -> None:
        if loading_in_progress():  # called by the loader itself: the sources are ready
            super().__init__(**values)
            return
        env_file = values.pop("_env_file", ".env")
        with loading(type(self), None, env_file=env_file) as dotenv_path:
            super().__init__(_env_file=dotenv_path, **values)

    @_model_validator(mode="after")
    def _every_pcn_can_read_its_datasources(self) -> ExtractorSettings:
        check_accounts(self.plex.datasource, self.plex.pcns, self.extraction.datasources)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: overrides, environment, `.env`, then the YAML file being loaded (if any)."""
        return (init_settings, env_settings, dotenv_settings, YamlSource(settings_cls))


def load_settings(
    path: str | Path | None = None,
    *,
    env_file: str | Path | None = ".env",
    **overrides: Any,
) -> ExtractorSettings:
    """Load and validate settings.

    Args:
        path: YAML file; None reads the file named by `PLEX_COGNITE_CONFIG`, or none at all (environment only).
        env_file: A `.env` file read if it exists (None: do not read one). Its values also feed `${VAR}`.
        **overrides: Highest-priority values by section, e.g. `plex={"pcns": ["340884"]}` (deep-merged).

    Returns:
        The validated settings.

    Raises:
        ConfigurationError: The file is missing or malformed, a `${VAR}` is unset, or a setting is invalid. The
            message names the YAML path of each problem (one per line) and the fix.
    """
    return load(ExtractorSettings, path, env_file=env_file, overrides=overrides)
