"""Typed settings for plex-cognite, loaded from YAML, environment variables and `.env`.

See `plex_cognite.config.settings` for the models and `load_settings` for the loading rules.
"""

from plex_cognite.config.settings import (
    DATASOURCE_STREAM_PREFIX,
    DEFAULT_STREAMS,
    KNOWN_STREAMS,
    BreakerSettings,
    CacheSettings,
    CogniteSettings,
    DataModelingSettings,
    DataSourceAccount,
    DataSourceSettings,
    DataSourceStream,
    DataSourceWindow,
    DeadLetterSettings,
    ExtractionSettings,
    ExtractorSettings,
    LoggingSettings,
    MetricsSettings,
    PlexSettings,
    RetrySettings,
    SinkKind,
    StateSettings,
    StreamName,
    load_settings,
)

__all__ = [
    "DATASOURCE_STREAM_PREFIX",
    "DEFAULT_STREAMS",
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
