"""Can this machine open a connection to a configured URL? One probe, bounded retries, one clear error.

`reach(url, ...)` opens a TCP connection (and, for `https`, completes the TLS handshake) to the URL's host and port.
A refused connection is retried with short backoff until `budget_s` has passed (a service that is starting up gets
a few seconds); a DNS failure, a timeout or a TLS failure fails at once. The error is an `UnreachableError` whose
message names the URL, the reason (DNS / refused / timeout / TLS) and the setting to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from plex_cognite.errors import UnreachableError

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings

__all__ = ["reach", "reach_upstreams"]


def _address(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    return host, parts.port or (443 if secure else 80), secure


async def _connect_once(host: str, port: int, secure: bool, timeout_s: float) -> None:
    context = ssl.create_default_context() if secure else None
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname=host if secure else None), timeout_s
    )
    writer.close()
    with contextlib.suppress(OSError):  # the peer may drop at once; we only wanted to know it accepts
        await writer.wait_closed()


async def reach(url: str, *, service: str, setting: str, budget_s: float = 10.0, timeout_s: float = 10.0) -> None:
    """Open (and close) one connection to `url`'s host; raise `UnreachableError` when that is impossible.

    Args:
        url: The base URL (`https://connect.plex.com`, `http://127.0.0.1:8080`).
        service: Name for the message (`Plex`, `CDF`).
        setting: The setting holding the URL (`plex.base_url`), for the hint.
        budget_s: How long a refused connection is retried before giving up.
        timeout_s: Timeout of one connection attempt (TCP and TLS together).

    Raises:
        UnreachableError: DNS failure, connection refused past the budget, timeout, or TLS failure.
    """
    host, port, secure = _address(url)
    deadline = time.monotonic() + budget_s
    wait = 0.2
    attempts = 0
    while True:
        attempts += 1
        try:
            await _connect_once(host, port, secure, timeout_s)
            return
        except socket.gaierror as error:
            raise UnreachableError(service, url, "dns", f"DNS lookup of {host} failed", setting=setting) from error
        except ssl.SSLError as error:
            detail = f"TLS handshake failed ({error.reason or type(error).__name__})"
            raise UnreachableError(service, url, "tls", detail, setting=setting) from error
        except TimeoutError as error:
            detail = f"connection timed out after {timeout_s:g} s"
            raise UnreachableError(service, url, "timeout", detail, setting=setting) from error
        except ConnectionRefusedError as error:
            left = deadline - time.monotonic()
            if left <= 0:
                detail = f"connection refused ({attempts} attempt(s) over {budget_s:g} s)"
                raise UnreachableError(service, url, "refused", detail, setting=setting) from error
            await asyncio.sleep(min(wait, left))
            wait = min(wait * 2, 2.0)
        except OSError as error:
            detail = f"cannot connect ({error.strerror or type(error).__name__})"
            raise UnreachableError(service, url, "network", detail, setting=setting) from error


async def reach_upstreams(settings: ExtractorSettings) -> None:
    """Fail fast, with what to check, when Plex (and its Data Source API) or CDF cannot be reached.

    Refused connections are retried within `plex.connect_budget_s` / `cdf.connect_budget_s`.

    Raises:
        UnreachableError: One of them cannot be reached (the message names the URL, why, and the setting).
    """
    await reach(
        settings.plex.base_url, service="Plex", setting="plex.base_url", budget_s=settings.plex.connect_budget_s
    )
    if settings.plex.datasource is not None:
        await reach(
            settings.plex.datasource.base_url,
            service="Plex Data Source",
            setting="plex.datasource.base_url",
            budget_s=settings.plex.connect_budget_s,
        )
    await reach(settings.cdf.base_url, service="CDF", setting="cdf.base_url", budget_s=settings.cdf.connect_budget_s)
