"""Redis plumbing shared by `RedisCache` and `RedisTokenBucketRateLimiter`.

The import (with a clear error when the extra is missing), a fast-failing client, and the outage back-off that lets
both degrade (misses, a local limiter) instead of failing an extraction.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

from plex_cognite.errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["OutageBackoff", "open_client", "redis_exceptions"]


def redis_exceptions(needed_by: str, *, field: str | None = None) -> ModuleType:
    """`redis.exceptions`, or a `ConfigurationError` saying that `needed_by` needs the redis extra."""
    try:
        return importlib.import_module("redis.exceptions")
    except ImportError as exc:  # pragma: no cover - the dev environment always has redis
        raise ConfigurationError(
            f"{needed_by} needs the redis package: pip install 'plex-cognite[redis]'", field=field
        ) from exc


def open_client(url_or_client: str | Redis, *, socket_timeout_s: float, connect_timeout_s: float) -> tuple[Redis, bool]:
    """The client for a URL (made here, so the caller owns it: True) or a ready client (left to its owner: False)."""
    if not isinstance(url_or_client, str):
        return url_or_client, False
    redis_asyncio = importlib.import_module("redis.asyncio")
    retry = importlib.import_module("redis.asyncio.retry")
    backoff = importlib.import_module("redis.backoff")
    # One quick reconnect attempt, no long backoff: a cache or a limiter must answer fast, or degrade at once.
    client: Redis = redis_asyncio.Redis.from_url(
        url_or_client,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=connect_timeout_s,
        retry=retry.Retry(backoff.ExponentialBackoff(cap=0.1, base=0.01), 1),
    )
    return client, True


class OutageBackoff:
    """Whether Redis is in an outage, and whether to skip it for now (no lock: callers hold their own).

    A failure starts (or extends) an outage and, by default, a back-off of `backoff_s` during which `skipping` is
    True, so an unreachable server costs no timeout per call; the first success ends the outage. `failed` and
    `succeeded` say when an outage starts and ends, so callers log once per outage, not once per call.

    Args:
        backoff_s: Seconds to skip Redis after a failure (0: try every call).
        clock: Monotonic seconds.
    """

    def __init__(self, backoff_s: float, clock: Callable[[], float]) -> None:
        self.backoff_s = backoff_s
        self._clock = clock
        self._retry_at: float | None = None
        self._down = False

    @property
    def down(self) -> bool:
        """Whether the last operation failed (an outage is going on)."""
        return self._down

    @property
    def skipping(self) -> bool:
        """Whether Redis should not even be tried now (inside the back-off after a failure)."""
        return self._retry_at is not None and self._clock() < self._retry_at

    def failed(self, *, back_off: bool = True) -> bool:
        """Record a failure (starting a back-off unless `back_off=False`); True when it starts an outage."""
        starts = not self._down
        self._down = True
        if back_off:
            self._retry_at = self._clock() + self.backoff_s
        return starts

    def succeeded(self) -> bool:
        """Record a success; True when it ends an outage."""
        ends = self._down
        self._down = False
        self._retry_at = None
        return ends
