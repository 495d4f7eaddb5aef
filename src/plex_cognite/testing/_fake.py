"""What FakeCDF and FakePlex share.

Starting and stopping their loopback servers, fault injection, the request log, and the pieces of their `python -m`
entry points (stop on a signal, an atomically written port file).
"""

from __future__ import annotations

import re
import signal
import threading
from collections import Counter
from types import FrameType, TracebackType
from typing import Self

from plex_cognite.testing._faults import Fault, FaultPlan
from plex_cognite.testing._http import LoopbackServer
from plex_cognite.testing._requestlog import RequestLog, RequestRecord

__all__ = ["LoopbackFake", "stop_event_on_signal"]


class LoopbackFake:
    """Base of the fakes served over loopback HTTP: lifecycle, fault injection and the request log.

    A subclass builds its `LoopbackServer`s on one `FaultPlan` (`faults`) and one `RequestLog` (`log`), and passes
    them to `__init__`.

    Args:
        servers: the servers to start and stop together, in that order.
        faults: the fault plan every server consults.
        log: the request log every server records into.
    """

    def __init__(self, servers: tuple[LoopbackServer, ...], faults: FaultPlan, log: RequestLog) -> None:
        self._servers = servers
        self.faults = faults
        self.log = log

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving (idempotent); returns self."""
        for server in self._servers:
            server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close open connections (idempotent; the state is kept)."""
        for server in self._servers:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- faults ----------------------------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        """Add a fault rule (checked after the ones already there) and return it.

        Its `path` regex is searched in the path the request log records: for FakeCDF the path after
        `/api/v1/projects/{project}`, for FakePlex the full request path on either of its servers.
        """
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.faults.clear()

    # -- request log -----------------------------------------------------------------------------------------------

    @property
    def request_log(self) -> list[RequestRecord]:
        """Every request served (method, path, status, items, fault, duration, request id), oldest first."""
        return self.log.records

    def request_counts(self, method: str | None = None, path: str | re.Pattern[str] | None = None) -> int:
        """How many requests matched (a string path matches exactly, a compiled pattern with `fullmatch`)."""
        return self.log.count(method, path)

    def request_counter(self) -> Counter[str]:
        """Requests per endpoint, keyed like `"POST /events"` or `"GET /scheduling/v1/jobs"`."""
        return self.log.counter()

    def reset_request_log(self) -> None:
        """Forget the request log."""
        self.log.reset()


# -- `python -m` entry points --------------------------------------------------------------------------------------


def stop_event_on_signal() -> threading.Event:
    """Return an event that SIGTERM and SIGINT set (for a `main()` that serves until told to stop)."""
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stopping
