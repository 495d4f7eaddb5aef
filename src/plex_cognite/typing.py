"""Public Protocols and type aliases: implement these to plug your own parts into plex-cognite.

Every Protocol here is structural: any object with the right methods fits, no subclassing needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from plex_cognite.core.results import DeadLetter

__all__ = [
    "AssetId",
    "BreakerListener",
    "CacheBackend",
    "CacheValue",
    "DeadLetterCallback",
    "ExternalId",
    "JSONValue",
    "Pcn",
    "RateLimiter",
]

#: A CDF external id (a string unique per resource type in a project).
ExternalId: TypeAlias = str
#: A CDF numeric internal id.
AssetId: TypeAlias = int
#: A Plex Customer Number, digits only, kept as a string (never zero-padded).
Pcn: TypeAlias = str
#: Any value that survives a JSON round trip.
JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"
#: What cache backends store.
CacheValue: TypeAlias = JSONValue
#: Called with every record that is rejected; it must not raise.
DeadLetterCallback: TypeAlias = "Callable[[DeadLetter], None]"


@runtime_checkable
class CacheBackend(Protocol):
    """An async, batch-first key-value cache.

    Missing keys are simply absent from `get_many`'s result. Implementations must be safe to share between
    tasks (and, for the memory cache, threads).
    """

    async def get_many(self, keys: Sequence[str]) -> dict[str, CacheValue]:
        """Return the cached values of those keys that are present and not expired."""
        ...

    async def set_many(self, items: Mapping[str, CacheValue], ttl: float | None = None) -> None:
        """Store values; `ttl` in seconds overrides the backend's default (None: the default)."""
        ...

    async def delete_many(self, keys: Sequence[str]) -> None:
        """Remove keys (missing keys are ignored)."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix`; return how many were removed."""
        ...

    async def clear(self) -> None:
        """Remove everything this backend owns (its namespace only, for shared stores)."""
        ...


@runtime_checkable
class RateLimiter(Protocol):
    """Admits calls at a bounded rate; `acquire` waits until a call may go."""

    async def acquire(self, key: str = "default", cost: float = 1.0) -> None:
        """Wait until `cost` calls may be made under `key` (for example one PCN's API key)."""
        ...


@runtime_checkable
class BreakerListener(Protocol):
    """Hears what a circuit breaker does; metrics and logs hook in here. Methods must not raise."""

    def on_state_change(self, name: str, old: str, new: str) -> None:
        """The breaker `name` moved from state `old` to `new` (`closed`, `open`, `half_open`)."""
        ...

    def on_rejected(self, name: str, retry_in: float) -> None:
        """A call was refused because the breaker is open; it may be tried in `retry_in` seconds."""
        ...
