"""The resilience package's public names (a name leaves `__all__` only with a CHANGELOG entry)."""

from __future__ import annotations

import plex_cognite.resilience as resilience


def test_exported_names() -> None:
    assert resilience.__all__ == sorted(resilience.__all__)
    assert set(resilience.__all__) == {
        "Allow",
        "BreakerCore",
        "BreakerState",
        "CircuitBreaker",
        "CircuitOpenError",
        "Decision",
        "ErrorAggregator",
        "ErrorKindSummary",
        "ErrorSample",
        "ErrorSummary",
        "LimiterStatistics",
        "ManualClock",
        "RedisLimiterStatistics",
        "RedisTokenBucketRateLimiter",
        "Reject",
        "RetryAfterWait",
        "RetryHandler",
        "RetryOverrides",
        "RetryPolicy",
        "RetrySleep",
        "RetryStatistics",
        "RetryTotals",
        "TokenBucketRateLimiter",
        "counts_as_failure",
        "is_retryable",
        "last_retry_statistics",
        "log_retry",
        "resilient_call",
        "with_retry",
    }
    for name in resilience.__all__:
        assert getattr(resilience, name) is not None


def test_circuit_open_error_lives_in_errors_without_an_import_cycle() -> None:
    import ast
    import pickle
    from pathlib import Path

    import plex_cognite.errors as errors

    assert resilience.CircuitOpenError is errors.CircuitOpenError
    tree = ast.parse(Path(errors.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported if name.startswith("plex_cognite")}, "errors.py must stay a leaf module"
    again = pickle.loads(pickle.dumps(errors.CircuitOpenError("plex", 3.0)))
    assert (type(again), again.name, again.retry_in) == (errors.CircuitOpenError, "plex", 3.0)
