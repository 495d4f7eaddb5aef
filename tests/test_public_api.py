"""The public surface is a contract: a name leaves `__all__` only with a CHANGELOG entry."""

from __future__ import annotations

import importlib.metadata

import plex_cognite

EXPECTED = {
    # settings
    "load_settings", "ExtractorSettings", "PlexSettings", "CogniteSettings", "ExtractionSettings", "StateSettings",
    "DeadLetterSettings", "CacheSettings", "MetricsSettings", "LoggingSettings",
    # errors
    "PlexCogniteError", "ConfigurationError", "SourceError", "PlexAPIError", "SinkError", "CogniteWriteError",
    "RecordValidationError", "StateError", "ErrorCategory", "classify",
    # resilience
    "RetryPolicy", "RetryHandler", "with_retry", "CircuitBreaker", "CircuitOpenError", "TokenBucketRateLimiter",
    "ErrorAggregator", "resilient_call",
    # caches
    "MemoryCache", "RedisCache", "TieredCache", "build_cache",
    # CDF side
    "AssetIDResolver", "get_resolver", "EventAssetLinker", "AssetsNotFoundError", "AssetItem", "EventItem",
    "TimeSeriesItem", "DatapointsItem", "RawRowItem", "AssetSink", "EventSink", "TimeSeriesSink", "DatapointsSink",
    "RawSink", "build_cognite_client", "build_async_cognite_client", "ExternalIdScheme",
    # Plex side
    "AsyncPlexClient", "PcnPlexClient", "DataSourceClient", "Building", "Workcenter", "Part", "Job", "JobOperation",
    "ProductionEntry", "ScrapEntry", "WorkcenterStatusEntry", "WorkcenterStatus", "Container",
    # the extractor model: contracts, base classes, state, runner
    "KeyedItem", "WriteResult", "ItemFailure", "DeadLetter", "AsyncBaseExtractor", "BaseExtractor", "BoundSink",
    "ExtractorContext", "ReadAheadBudget", "ReadAheadReader", "ExtractorResources", "StreamExtractor", "StreamReport",
    "RunReport",
    "run_extractors", "run_extractors_sync", "LocalStateStore", "RawStateStore", "RedisStateStore", "MemoryStateStore",
    "StreamState", "DeadLetterStore",
    "LocalDeadLetterStore", "RawDeadLetterStore", "MasterDataExtractor", "JobsExtractor", "ProductionExtractor",
    "ScrapExtractor", "WorkcenterStatusExtractor", "MappingContext",
    # observability
    "configure_logging", "get_logger", "bind_context", "ExtractorMetrics", "start_metrics_server",
    # scale-out
    "plan_backfill", "run_backfill", "WorkUnit", "BackfillReport", "RedisTokenBucketRateLimiter",
    "__version__",
}  # fmt: skip


def test_all_is_exactly_the_curated_surface() -> None:
    assert set(plex_cognite.__all__) == EXPECTED
    assert len(plex_cognite.__all__) == len(set(plex_cognite.__all__)), "duplicates in __all__"


def test_every_exported_name_resolves() -> None:
    missing = [name for name in plex_cognite.__all__ if not hasattr(plex_cognite, name)]
    assert missing == []


def test_version_matches_the_installed_distribution() -> None:
    assert plex_cognite.__version__ == importlib.metadata.version("plex-cognite")


def test_typing_module_exports_the_protocols() -> None:
    import plex_cognite.typing as public_typing

    assert {
        "Source",
        "Sink",
        "PreparingSink",
        "KeyedItem",
        "WriteResult",
        "ItemFailure",
        "Transform",
        "StateStore",
        "CacheBackend",
        "RateLimiter",
        "BreakerListener",
    } <= set(public_typing.__all__)


def test_testing_module_exports_the_fakes() -> None:
    import plex_cognite.testing as testing

    assert set(testing.__all__) == {"FakeCDF", "FakePlex", "Fault", "FaultPlan", "SimulatedPlant", "PlantSize",
                                    "ExpectedCdf"}  # fmt: skip
    for name in testing.__all__:
        assert getattr(testing, name).__name__ == name
