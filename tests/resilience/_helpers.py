"""Small builders shared by the resilience tests (real httpx objects, a manual clock)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import httpx

from plex_cognite.resilience import ManualClock, RetryPolicy

URL = "https://connect.plex.com/mdm/v1/parts"


def fast_policy(clock: ManualClock, **overrides: object) -> RetryPolicy:
    """A policy on `clock` (no real sleeping), deterministic jitter, silent unless told otherwise."""
    values: dict[str, object] = {
        "clock": clock,
        "sleep": clock.sleep,
        "async_sleep": clock.async_sleep,
        "rand": lambda: 0.0,
        "before_sleep": None,
    }
    values.update(overrides)
    return RetryPolicy(**values)  # type: ignore[arg-type]


def status_error(status: int, headers: dict[str, str] | None = None, url: str = URL) -> httpx.HTTPStatusError:
    """A real `HTTPStatusError`, raised by `raise_for_status()` on a real `httpx.Response`."""
    response = httpx.Response(status, headers=headers, request=httpx.Request("GET", url), json={"message": "x"})
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        return exc
    raise AssertionError(f"status {status} did not raise")


Script = Sequence[int | tuple[int, dict[str, str]] | type[httpx.TransportError]]


def scripted_handler(script: Script) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.Request]]:
    """An httpx MockTransport handler answering `script` in order (a status, (status, headers) or an error type)."""
    seen: list[httpx.Request] = []
    answers: Iterator[int | tuple[int, dict[str, str]] | type[httpx.TransportError]] = iter(script)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(answers)
        if isinstance(answer, type):
            raise answer("scripted transport failure", request=request)
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return httpx.Response(status, headers=headers, json={"ok": status < 400})

    return handler, seen
